"""Mounting calibration and INT8 calibration."""
