"""Linear attenuation coefficients of the phantom's tissues, 1/cm at an effective energy of ~60 keV."""

from __future__ import annotations

MU_SOFT = 0.20
"""Soft tissue, blood and pleural fluid."""
MU_LUNG = 0.05
"""Aerated lung (density ~0.25 g/cm^3)."""
MU_CORTEX = 0.30
"""Excess of cortical bone over soft tissue."""
MU_MARROW = 0.10
"""Excess of cancellous bone over soft tissue."""
MU_EDEMA = 0.15
"""Excess of flooded over aerated lung at edema severity 1."""
