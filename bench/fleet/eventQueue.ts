interface Entry<E> {
  time: number;
  /** Insertion order: events at the same time happen in the order they were scheduled, so a run is reproducible. */
  order: number;
  event: E;
}

const before = <E>(a: Entry<E>, b: Entry<E>): boolean => a.time < b.time || (a.time === b.time && a.order < b.order);

/** The discrete-event simulation's agenda: a binary min-heap of future events by time. */
export class EventQueue<E> {
  private readonly heap: Entry<E>[] = [];
  private scheduled = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(time: number, event: E): void {
    const heap = this.heap;
    const entry = { time, order: this.scheduled, event };
    this.scheduled += 1;
    let index = heap.length;
    heap.push(entry);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent];
      if (!above || !before(entry, above)) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = entry;
  }

  /** The earliest event and its time, or undefined when nothing is left. */
  next(): { time: number; event: E } | undefined {
    const heap = this.heap;
    const first = heap[0];
    const last = heap.pop();
    if (!first || !last) return undefined;
    if (heap.length > 0) {
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        const right = left + 1;
        let smallest = last;
        let target = -1;
        const leftEntry = heap[left];
        const rightEntry = heap[right];
        if (leftEntry && before(leftEntry, smallest)) {
          smallest = leftEntry;
          target = left;
        }
        if (rightEntry && before(rightEntry, smallest)) {
          smallest = rightEntry;
          target = right;
        }
        if (target < 0) break;
        heap[index] = smallest;
        index = target;
      }
      heap[index] = last;
    }
    return { time: first.time, event: first.event };
  }
}
