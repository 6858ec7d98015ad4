"""Short import path for the network topology (``gridcrit.topology``); it lives in the reliability stage."""

from gridcrit.reliability.topology import DeviceTrace, Topology, is_protective

__all__ = ["DeviceTrace", "Topology", "is_protective"]
