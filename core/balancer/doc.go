// Package balancer picks the invoker for each activation, as OpenWhisk's
// ShardingContainerPoolBalancer does (reference/openwhisk.md §3.7): every
// action has a home invoker found by hashing its namespace and name, and a
// step size, one of the numbers up to N that are pairwise co-prime (and
// co-prime with N), so that probing home, home+step, home+2·step, ... visits
// every invoker once. The first usable invoker with free memory takes the
// activation; when none has room, a random healthy one is forced to take it
// (its account goes negative) rather than refusing work that only has to
// wait in its queue.
//
// Memory is accounted per invoker in MB, from the budget its pings announce,
// divided by the number of controllers (each controller owns a shard of
// every invoker; OpenWhisk's getInvokerSlot). A slot is released on the
// activation's completion, or when the controller gives up on it.
//
// Health is an FSM per invoker fed by the health topic and by completions:
// offline without a ping for OfflineAfter (or after a disabled ping),
// unhealthy after more than 3 system errors in its last 10 completions,
// healthy otherwise. An unhealthy invoker gets a clean slate after
// ProbeAfter, when it is tried again (OpenWhisk sends it a test action
// instead; ours is the next real activation).
package balancer
