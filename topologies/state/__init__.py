"""The worker's partitioned state: how a ticket is stored (`codec`), the store seam
(`store.PartitionStore`) and its Faust/RocksDB (`rocksdb`) and in-memory (`memory`) forms."""
