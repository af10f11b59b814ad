"""smartmeter-logger: B-route (Wi-SUN SKSTACK-IP) logger for Japanese low-voltage smart meters."""

__version__ = "0.1.0"
