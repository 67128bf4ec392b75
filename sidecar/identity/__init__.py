"""Where the identity of the storage under the database is read from: one module per source."""
