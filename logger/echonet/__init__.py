"""ECHONET Lite: frame codec (frame.py) and the low-voltage smart meter class 0x028801 (meter.py)."""
