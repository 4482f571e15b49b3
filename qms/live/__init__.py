"""Live alarm pages: the websocket feed of alarm events (consumer, nudge receiver) and the supervisor's pages."""
