"""The MES simulator: an injection-moulding line (IMM01–IMM03) served as real protocol servers on loopback.

Plug-in point for protocol faces — see connectors/simulator/faces.py.
"""
