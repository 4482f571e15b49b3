"""Domain services: every state change of a quality record goes through one named function here."""
