package balancer

import "hash/fnv"

// hash is the action's place on the ring: FNV-1a of the namespace, xor
// FNV-1a of the fully qualified name, as OpenWhisk xors their hash codes.
func hash(namespace, name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(namespace))
	ns := h.Sum32()
	h.Reset()
	h.Write([]byte(namespace))
	h.Write([]byte{'/'})
	h.Write([]byte(name))
	return ns ^ h.Sum32()
}

// coprimes returns the numbers in 1..n co-prime with n and with each other
// (OpenWhisk's pairwiseCoprimeNumbersUntil): 10 gives 1, 3, 7. Stepping by
// any of them from any start visits every index below n once.
func coprimes(n int) []int {
	var out []int
	for cur := 1; cur <= n; cur++ {
		if gcd(cur, n) != 1 {
			continue
		}
		ok := true
		for _, p := range out {
			if gcd(p, cur) != 1 {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, cur)
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// probeOrder is the order in which invokers 0..n-1 are tried for hash h.
func probeOrder(h uint32, n int) []int {
	if n <= 0 {
		return nil
	}
	steps := coprimes(n)
	home := int(h % uint32(n))
	step := steps[int(h%uint32(len(steps)))]
	out := make([]int, n)
	for i := range out {
		out[i] = (home + i*step) % n
	}
	return out
}
