"""Tools for testers: the call-script pytest plugin (:mod:`.pytest_plugin`) and the Twilio Media Streams peer.

The peer itself lives with the simulator (:mod:`ivr.sim.media_client`), which
plays Twilio's side of a streamed call; it is re-exported here for tests.
"""

from ..sim.media_client import MediaStreamClient

__all__ = ["MediaStreamClient"]
