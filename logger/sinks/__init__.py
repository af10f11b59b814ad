"""Where readings go: daily long-format CSV, InfluxDB v2, and the durable spool between."""
