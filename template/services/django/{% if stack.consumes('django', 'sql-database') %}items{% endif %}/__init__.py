"""The items app: one table, written and read through the API and editable in the admin."""
