"""The emulator's label-noise engine: windows, features and the three methods.

`label_noise.compute_label_noise` runs everything; each method's module
documents its definition and thresholds.
"""
