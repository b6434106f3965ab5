"""The geometry and exposure of one phantom chest, sampled with natural variation.

Coordinates are normalised: the image spans [-1, 1] on both axes, y grows downwards. Radiographic
convention: the patient's right is on the image's left, so `SIGN["right"] == -1`. Findings that
change the shape of the chest (cardiomegaly, inflation, an elevated hemidiaphragm) edit these
parameters before anything is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIGN = {"right": -1.0, "left": 1.0}


@dataclass
class Anatomy:
    """Parameters of one chest. Per-side values are dicts keyed by "right"/"left"."""

    # framing and positioning
    rotation: float          # in-plane rotation of the whole chest (radians)
    scale: float             # zoom of the chest in the frame
    shift: tuple[float, float]
    midline: float           # x of trachea/spine/heart (patient rotation shifts it)
    # habitus
    body_width: float        # half-width of the torso
    soft_tissue: float       # density of the soft tissue (thicker patients: denser, less contrast)
    breasts: bool            # soft-tissue shadows over the lower zones
    # lungs
    lung_offset: float       # distance of a lung's centre from the midline
    lung_half_width: float
    lung_top: float          # y of the apices
    lung_air: float          # how dark aerated lung is
    dome_top: dict[str, float] = field(default_factory=dict)    # y of each diaphragm dome
    dome_height: dict[str, float] = field(default_factory=dict)  # dome apex above the CP angle
    # heart and mediastinum
    heart_right: float = 0.22     # extent of the heart to the patient's right of the midline
    heart_left: float = 0.46      # ... and to the patient's left
    heart_centre_y: float = 0.32
    heart_half_height: float = 0.26
    mediastinum_half_width: float = 0.1
    knob_radius: float = 0.07     # aortic knob
    knob_y: float = -0.3
    # bones
    spine_half_width: float = 0.085
    vertebra_height: float = 0.12
    spine_curve: float = 0.0      # scoliosis: lateral displacement of the spine at mid-chest
    rib_spacing: float = 0.13
    rib_start: float = -0.83
    clavicle_y: float = -0.7
    # vessels: angles (radians, 0 = lateral, +pi/2 = down) of the main branches per side
    vessel_angles: dict[str, np.ndarray] = field(default_factory=dict)
    vessel_branch: dict[str, np.ndarray] = field(default_factory=dict)
    # exposure
    exposure: float = 1.0
    gamma: float = 1.0
    noise: float = 0.02

    def side_x(self, side: str, offset: float) -> float:
        """x of a point `offset` from the midline towards the patient's `side`."""
        return self.midline + SIGN[side] * offset


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """A chest with plausible variation of habitus, positioning, inspiration and exposure."""
    u = rng.uniform
    inspiration = u(-0.05, 0.05)
    anatomy = Anatomy(
        rotation=float(rng.normal(0.0, 0.025)),
        scale=u(0.94, 1.04),
        shift=(u(-0.03, 0.03), u(-0.03, 0.04)),
        midline=float(rng.normal(0.0, 0.015)),
        body_width=u(0.86, 0.99),
        soft_tissue=u(0.85, 1.2),
        breasts=bool(rng.random() < 0.5),
        lung_offset=u(0.38, 0.42),
        lung_half_width=u(0.30, 0.34),
        lung_top=u(-0.74, -0.66),
        lung_air=u(0.55, 0.7),
        heart_right=u(0.2, 0.26),
        heart_left=u(0.40, 0.47),
        heart_centre_y=u(0.2, 0.26) + inspiration / 2,
        heart_half_height=u(0.27, 0.32),
        mediastinum_half_width=u(0.1, 0.13),
        knob_radius=u(0.055, 0.08),
        knob_y=u(-0.34, -0.26),
        spine_half_width=u(0.075, 0.09),
        vertebra_height=u(0.11, 0.13),
        rib_spacing=u(0.12, 0.14),
        rib_start=u(-0.86, -0.8),
        clavicle_y=u(-0.76, -0.66),
        exposure=u(0.9, 1.1),
        gamma=u(0.85, 1.15),
        noise=u(0.012, 0.03),
    )
    right_dome = u(0.3, 0.38) + inspiration
    anatomy.dome_top = {"right": right_dome, "left": right_dome + u(0.02, 0.07)}
    anatomy.dome_height = {side: u(0.14, 0.2) for side in ("right", "left")}
    for side in ("right", "left"):
        count = rng.integers(7, 10)
        anatomy.vessel_angles[side] = np.sort(
            rng.uniform(-1.35, 1.45, count) + rng.normal(0, 0.05, count)).astype(np.float32)
        anatomy.vessel_branch[side] = rng.uniform(0.12, 0.28, count).astype(np.float32)
    return anatomy
