"""Intermediate-table connector: source (DB-API claim/ack by id + status), poll (store then ack), service/tasks."""
