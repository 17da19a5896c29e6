"""Validation of bayesmix's inference, as runnable commands.

- :mod:`bayesmix.validation.sbc`: simulation-based calibration (Talts et al. 2018), run as
  ``python -m bayesmix.validation.sbc --k 2 --reps 200 --out docs/validation``.

Nothing here is imported by ``import bayesmix``.
"""
