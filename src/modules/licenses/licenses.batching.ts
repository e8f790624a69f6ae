// How the outbox groups associate/disassociate operations into Apple requests (ENG-8): Apple's write is
// a cross product (every asset × every target), so a request may only carry targets that want exactly
// the same assets. Grouping every target by its exact asset set (what a naive pass does) gives many
// small requests when targets want different combinations of apps. Here the floor is batching per
// app (one asset × up to maxSerialNumbers serials or maxClientUserIds users per request); a chunk of
// targets that share an asset list goes in shared requests (up to maxAssets assets) only when that
// saves per-app requests (always for a full chunk), so the total never exceeds Σ over apps of
// ⌈serials ÷ maxSerialNumbers⌉ + ⌈users ÷ maxClientUserIds⌉; assets whose remaining targets are the
// same share requests too. Each returned group is homogeneous (its pairs are exactly assets ×
// targets), so it can be sent, and resumed after a crash, as one cross product. Pure: no I/O.

export interface WriteLimits {
  maxAssets: number;
  maxSerialNumbers: number;
  maxClientUserIds: number;
}

export interface WritePairOf<T> {
  /** The asset (adamId + pricing). */
  asset(item: T): string;
  /** The target: a serial number or a clientUserId. */
  target(item: T): { kind: "serial" | "user"; key: string };
}

interface TargetEntry<T> {
  key: string;
  kind: "serial" | "user";
  items: Map<string, T>;
}

/**
 * Splits pairs into groups, each a full cross product of its assets and targets, that need few
 * requests once chunked by the limits. A duplicate pair (same asset and target) stays with the first.
 */
export function groupWritePairs<T>(items: readonly T[], of: WritePairOf<T>, limits: WriteLimits): T[][] {
  const maxA = Math.max(1, Math.floor(limits.maxAssets));
  const maxOf = (kind: "serial" | "user") =>
    Math.max(1, Math.floor(kind === "serial" ? limits.maxSerialNumbers : limits.maxClientUserIds));
  const out: T[][] = [];
  const duplicates: T[] = [];

  // Each target and the assets it wants (in first-seen order).
  const targets = new Map<string, TargetEntry<T>>();
  for (const it of items) {
    const t = of.target(it);
    const k = `${t.kind}\u0000${t.key}`;
    let e = targets.get(k);
    if (!e) {
      e = { key: k, kind: t.kind, items: new Map() };
      targets.set(k, e);
    }
    const a = of.asset(it);
    if (e.items.has(a)) duplicates.push(it);
    else e.items.set(a, it);
  }

  // Targets by their exact asset set.
  const bySet = new Map<string, { assets: string[]; serial: TargetEntry<T>[]; user: TargetEntry<T>[] }>();
  for (const e of targets.values()) {
    const assets = [...e.items.keys()].sort();
    const k = assets.join("\u0001");
    let g = bySet.get(k);
    if (!g) {
      g = { assets, serial: [], user: [] };
      bySet.set(k, g);
    }
    g[e.kind].push(e);
  }

  // Per asset: the targets left to batch per app.
  const perAsset = new Map<string, TargetEntry<T>[]>();
  const addPerAsset = (e: TargetEntry<T>) => {
    for (const a of e.items.keys()) {
      const l = perAsset.get(a);
      if (l) l.push(e);
      else perAsset.set(a, [e]);
    }
  };
  // Requests the per-app batching would need, per asset and kind: Σ ⌈remaining ÷ limit⌉.
  const remaining = new Map<string, number>();
  for (const e of targets.values())
    for (const a of e.items.keys())
      remaining.set(`${e.kind}\u0000${a}`, (remaining.get(`${e.kind}\u0000${a}`) ?? 0) + 1);
  for (const g of bySet.values()) {
    const k = g.assets.length;
    if (k === 1) {
      for (const e of g.serial) addPerAsset(e);
      for (const e of g.user) addPerAsset(e);
      continue;
    }
    // A chunk of targets sharing the asset list costs ⌈k ÷ maxAssets⌉ requests; it is shared when that
    // saves at least as many per-app requests (always for a full chunk), so the total never exceeds
    // the per-app floor.
    const cost = Math.ceil(k / maxA);
    const shared: TargetEntry<T>[] = [];
    for (const kind of ["serial", "user"] as const) {
      const list = g[kind];
      const max = maxOf(kind);
      for (let i = 0; i < list.length; i += max) {
        const part = list.slice(i, i + max);
        const c = part.length;
        let saved = 0;
        for (const a of g.assets) {
          const n = remaining.get(`${kind}\u0000${a}`) ?? 0;
          saved += Math.ceil(n / max) - Math.ceil((n - c) / max);
        }
        if (saved >= cost) {
          shared.push(...part);
          for (const a of g.assets)
            remaining.set(`${kind}\u0000${a}`, (remaining.get(`${kind}\u0000${a}`) ?? 0) - c);
        } else for (const e of part) addPerAsset(e);
      }
    }
    if (shared.length > 0) out.push(shared.flatMap((e) => [...e.items.values()]));
  }

  // Per app, assets whose remaining targets are the same sharing one group.
  const byTargets = new Map<string, { assets: string[]; targets: TargetEntry<T>[] }>();
  for (const [a, list] of perAsset) {
    const k = list
      .map((e) => e.key)
      .sort()
      .join("\u0001");
    const g = byTargets.get(k);
    if (g) g.assets.push(a);
    else byTargets.set(k, { assets: [a], targets: list });
  }
  for (const g of byTargets.values())
    out.push(g.targets.flatMap((e) => g.assets.map((a) => e.items.get(a) as T)));

  // A repeated pair (should not happen: one open operation per holding) goes alone, after the rest.
  for (const d of duplicates) out.push([d]);
  return out;
}
