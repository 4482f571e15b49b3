"""Legacy file import (CSV, JSON, dBase/FoxPro .dbf) and the field parsing shared with the table and MQTT connectors."""
