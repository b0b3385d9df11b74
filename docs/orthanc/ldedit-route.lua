-- Orthanc routing rule for LDEdit: forward each new, stable CR/DX study to `ldedit serve`.
--
-- Add to Orthanc's configuration:  "LuaScripts": ["/etc/orthanc/ldedit-route.lua"]
-- and declare LDEdit in "DicomModalities": { "LDEDIT": ["LDEDIT", "ldedit-host", 11112] }.
--
-- LDEdit sends its results back into Orthanc: the follow-up studies, and a DICOM SEG into the source
-- study. A study holding anything LDEdit sent (RemoteAET = LDEDIT) is never forwarded, so the SEG that
-- reopens the source study, and the follow-ups themselves, do not loop back.

local LDEDIT = 'LDEDIT'          -- the DicomModalities name of ldedit serve
local MODALITIES = { CR = true, DX = true }

function OnStableStudy(studyId, tags, metadata)
  local wanted = false
  for _, series in ipairs(ParseJson(RestApiGet('/studies/' .. studyId .. '/series'))) do
    if MODALITIES[series['MainDicomTags']['Modality']] then
      wanted = true
    end
  end
  if not wanted then
    return
  end
  for _, instance in ipairs(ParseJson(RestApiGet('/studies/' .. studyId .. '/instances'))) do
    local meta = ParseJson(RestApiGet('/instances/' .. instance['ID'] .. '/metadata?expand'))
    if meta['RemoteAET'] == LDEDIT then
      return  -- LDEdit's own results
    end
  end
  print('LDEdit: forwarding study ' .. studyId)
  -- a REST store job (Lua's SendToModality takes instances, not studies), asynchronous so Lua is not held
  RestApiPost('/modalities/' .. LDEDIT .. '/store',
              DumpJson({ Resources = { studyId }, Synchronous = false }, true))
end
