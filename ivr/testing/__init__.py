"""Tools for testing IVR flows and transports."""
