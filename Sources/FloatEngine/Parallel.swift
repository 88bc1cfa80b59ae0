/// Elementwise work below this many elements is not worth waking another thread for.
let parallelElementThreshold = 1 << 16
