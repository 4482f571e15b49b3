"""OPC UA client adapter (asyncua 2.x): subscriptions, cycle events, browse, write-back. No Django import."""
