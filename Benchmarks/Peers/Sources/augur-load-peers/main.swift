// augur-load with LMDB and RocksDB registered next to Augur, each as a naive caller and as its
// best user would run it: `augur-load-peers compare ...` runs the same workload against them.
// Every other command and option is augur-load's.
import AugurLoadCLI

EngineRegistry.register("lmdb", LMDBStore.open)
EngineRegistry.register("rocksdb", RocksDBStore.open)
// The same engines as their users at their best would run them (issue 19): LMDB with reused
// read transactions, RocksDB with the options its tuning guide recommends.
EngineRegistry.register("lmdb-best", LMDBStore.openBest)
EngineRegistry.register("rocksdb-best", RocksDBStore.openBest)
AugurLoad.main()
