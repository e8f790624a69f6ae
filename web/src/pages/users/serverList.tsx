// Shared by the directory, audit and settings pages: a server-paged OData list (@odata.nextLink,
// $count) for DataTable, a debounced search box, and small detail-panel helpers.
import { Field, Input, makeStyles, Text, tokens } from "@fluentui/react-components";
import { SearchRegular } from "@fluentui/react-icons";
import { useInfiniteQuery } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import { getPage, type ODataPage, odataPath } from "../../api/client.ts";
import type { SortState } from "../../components/DataTable.tsx";

/** A server-paged collection: first page with $count, later pages from @odata.nextLink. */
export function useServerList<T>(
  key: readonly unknown[],
  path: string,
  query: Record<string, string | number | undefined>,
) {
  const q = useInfiniteQuery({
    queryKey: [...key, path, query],
    initialPageParam: odataPath(path, { ...query, $count: "true" }),
    queryFn: ({ pageParam, signal }) => getPage<T>(pageParam, { count: true, signal }),
    getNextPageParam: (last: ODataPage<T>) => last["@odata.nextLink"],
  });
  const rows = q.data?.pages.flatMap((p) => p.value) ?? [];
  const count = q.data?.pages[0]?.["@odata.count"];
  const onEndReached = () => {
    if (q.hasNextPage && !q.isFetchingNextPage) void q.fetchNextPage();
  };
  return { q, rows, count, onEndReached, loadingMore: q.isFetchingNextPage };
}

export function orderBy(sort: SortState | undefined): string | undefined {
  return sort ? `${sort.key} ${sort.direction === "ascending" ? "asc" : "desc"}` : undefined;
}

/** OData string literal: quotes doubled. */
export function lit(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A search field whose value settles 300 ms after the last keystroke. */
export function useDebounced(value: string, ms = 300): string {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function SearchField(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  hint?: string;
}) {
  return (
    <Field label={props.label} hint={props.hint} style={{ minWidth: "280px" }}>
      <Input
        type="search"
        contentBefore={<SearchRegular aria-hidden />}
        value={props.value}
        onChange={(_, d) => props.onChange(d.value)}
      />
    </Field>
  );
}

const useStyles = makeStyles({
  toolbar: { display: "flex", gap: "12px", alignItems: "flex-end", flexWrap: "wrap", marginBottom: "12px" },
  count: { color: tokens.colorNeutralForeground2, paddingBottom: "6px" },
  section: { marginTop: "20px" },
  dl: {
    display: "grid",
    gridTemplateColumns: "max-content 1fr",
    columnGap: "16px",
    rowGap: "6px",
    margin: "0 0 8px",
  },
  dt: { fontWeight: tokens.fontWeightSemibold, color: tokens.colorNeutralForeground2 },
  dd: { margin: 0 },
});

export function Toolbar(props: { children: ReactNode; count?: number; loaded?: number }) {
  const s = useStyles();
  return (
    <div className={s.toolbar}>
      {props.children}
      {props.count !== undefined && (
        <Text className={s.count} aria-live="polite">
          {props.count.toLocaleString()} total
          {props.loaded !== undefined && props.loaded < props.count
            ? ` · ${props.loaded.toLocaleString()} loaded`
            : ""}
        </Text>
      )}
    </div>
  );
}

export function Section(props: { title: string; children: ReactNode; actions?: ReactNode }) {
  const s = useStyles();
  return (
    <section className={s.section} aria-label={props.title}>
      <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center", gap: 8 }}>
        <h2 style={{ fontSize: tokens.fontSizeBase500, margin: "0 0 8px" }}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

export function Facts(props: { items: [string, ReactNode][] }) {
  const s = useStyles();
  return (
    <dl className={s.dl}>
      {props.items.map(([k, v]) => (
        <div key={k} style={{ display: "contents" }}>
          <dt className={s.dt}>{k}</dt>
          <dd className={s.dd}>{v ?? "—"}</dd>
        </div>
      ))}
    </dl>
  );
}

export function when(iso: unknown): string {
  return typeof iso === "string" && iso ? new Date(iso).toLocaleString() : "—";
}
