"""The engine's Kafka plumbing, in one place: client security (`client`), the one producer
configuration (`producer`), administration (`admin`), the time-range reader (`range_reader`) and
the two broker launchers (`embedded`: tansu; `apache`: Apache Kafka KRaft)."""
