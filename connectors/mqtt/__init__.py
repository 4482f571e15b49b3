"""MQTT connector: mapping (pure payload decoding), config, adapter (paho 2.x session with manual ack)."""
