"""Camera mounting calibration (yaw offset, pitch, roll, height): the file the runtime reads at start."""
