// One portal host at a time: Hangfire keeps some state per process (its job-id keyed locks among it),
// so two hosts with their own databases side by side can stall each other's jobs with equal ids.
// Production runs one host per process.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
