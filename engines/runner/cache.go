package main

import "container/list"

const programCacheSize = 512

// programCache keeps compiled programs by checksum, evicting the least
// recently used beyond its capacity.
type programCache struct {
	capacity int
	order    *list.List // of *cacheEntry, most recently used first
	entries  map[string]*list.Element
}

type cacheEntry struct {
	checksum string
	program  program
}

func newProgramCache(capacity int) *programCache {
	return &programCache{capacity: capacity, order: list.New(), entries: make(map[string]*list.Element)}
}

func (c *programCache) get(checksum string) program {
	el, ok := c.entries[checksum]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).program
}

func (c *programCache) put(checksum string, p program) {
	if el, ok := c.entries[checksum]; ok {
		el.Value.(*cacheEntry).program = p
		c.order.MoveToFront(el)
		return
	}
	c.entries[checksum] = c.order.PushFront(&cacheEntry{checksum: checksum, program: p})
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).checksum)
	}
}

func (c *programCache) remove(checksum string) bool {
	el, ok := c.entries[checksum]
	if ok {
		c.order.Remove(el)
		delete(c.entries, checksum)
	}
	return ok
}

func (c *programCache) len() int { return c.order.Len() }
