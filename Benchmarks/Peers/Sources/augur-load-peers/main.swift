// augur-load with LMDB and RocksDB registered next to Augur: `augur-load-peers compare ...`
// runs the same workload against all three. Every other command and option is augur-load's.
import AugurLoadCLI

EngineRegistry.register("lmdb", LMDBStore.open)
EngineRegistry.register("rocksdb", RocksDBStore.open)
AugurLoad.main()
