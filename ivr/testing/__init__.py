"""Tools for testing IVR flows and transports: the call-script pytest plugin and a Twilio Media Streams client."""
