// License history of one app: who held its license when (GET mobileApps/{id}/licenseHistory, newest
// first, server-paged through @odata.nextLink as the table scrolls). The holder search matches the
// app's holders (licenseHoldings: names, UPNs, serial numbers) or takes an id, and filters the
// history server-side with holderId in (…). CSV export writes the loaded rows.
import { Field, Input, Select, Text, tokens } from "@fluentui/react-components";
import { SearchRegular } from "@fluentui/react-icons";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "wouter";
import { downloadRowsAsCsv, getAll, getPage, type ODataPage, odataPath } from "../../api/client.ts";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { StateBadge } from "../../components/StateBadge.tsx";
import { type Holding, reasonText } from "../apps/appModel.ts";
import { Toolbar, useDebounced, when } from "../users/serverList.tsx";

export interface LicenseEvent {
  id: string;
  holderType: "user" | "device";
  holderId: string;
  holderDisplayName: string | null;
  holderUserPrincipalName: string | null;
  fromState: string | null;
  toState: string;
  reason: string | null;
  occurredDateTime: string;
}

const APPS = "/beta/deviceAppManagement/mobileApps";
const PAGE = 200;
/** The route takes up to 200 ids in one holderId in (…). */
const MAX_HOLDERS = 200;
const guidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const csvColumns = [
  "occurredDateTime",
  "holderType",
  "holderDisplayName",
  "holderUserPrincipalName",
  "holderId",
  "fromState",
  "toState",
  "reason",
].map((k) => ({ key: k, header: k }));

export function LicenseHistory(props: {
  apps: { id: string; displayName: string }[];
  /** The app to show first (e.g. the one with the latest license event). */
  defaultAppId?: string;
  loading: boolean;
}) {
  const sortedApps = useMemo(
    () => [...props.apps].sort((a, b) => (a.displayName ?? "").localeCompare(b.displayName ?? "")),
    [props.apps],
  );
  const [picked, setPicked] = useState("");
  const appId =
    picked && sortedApps.some((a) => a.id === picked)
      ? picked
      : props.defaultAppId && sortedApps.some((a) => a.id === props.defaultAppId)
        ? props.defaultAppId
        : (sortedApps[0]?.id ?? "");
  const app = sortedApps.find((a) => a.id === appId);
  const [holderText, setHolderText] = useState("");
  const holder = useDebounced(holderText.trim());

  // Names → ids through the app's holders (one read, only while searching by name).
  const holders = useQuery({
    queryKey: ["licenses", "historyHolders", appId],
    queryFn: () => getAll<Holding>(`${APPS}/${appId}/licenseHoldings`),
    enabled: !!appId && !!holder && !guidRe.test(holder),
  });
  const holderIds: string[] | undefined = useMemo(() => {
    if (!holder) return undefined;
    if (guidRe.test(holder)) return [holder.toLowerCase()];
    const needle = holder.toLowerCase();
    return (holders.data ?? [])
      .filter((h) =>
        [h.displayName, h.userPrincipalName, h.serialNumber, h.holderId].some((v) =>
          v?.toLowerCase().includes(needle),
        ),
      )
      .map((h) => h.holderId)
      .slice(0, MAX_HOLDERS);
  }, [holder, holders.data]);
  const filter = holderIds?.length
    ? `holderId in (${holderIds.map((id) => `'${id}'`).join(", ")})`
    : undefined;
  const noHolderMatches = !!holder && holders.isSuccess && holderIds?.length === 0;
  const waitingForHolders = !!holder && !guidRe.test(holder) && holders.isLoading;

  const q = useInfiniteQuery({
    queryKey: ["licenses", "history", appId, filter],
    initialPageParam: odataPath(`${APPS}/${appId}/licenseHistory`, { $top: PAGE, $filter: filter }),
    queryFn: ({ pageParam, signal }) => getPage<LicenseEvent>(pageParam, { signal }),
    getNextPageParam: (last: ODataPage<LicenseEvent>) => last["@odata.nextLink"],
    enabled: !!appId && !noHolderMatches && !waitingForHolders,
  });
  const rows = noHolderMatches ? [] : (q.data?.pages.flatMap((p) => p.value) ?? []);
  const loading = props.loading || q.isLoading || waitingForHolders;
  const onEndReached = () => {
    if (q.hasNextPage && !q.isFetchingNextPage) void q.fetchNextPage();
  };
  const holderLink = (e: LicenseEvent) => (
    <Link href={e.holderType === "device" ? `~/devices/${e.holderId}` : `~/users/${e.holderId}`}>
      {e.holderDisplayName ?? `${e.holderType} ${e.holderId.slice(0, 8)}…`}
    </Link>
  );
  const error = q.error ?? holders.error;

  return (
    <>
      <Toolbar>
        <Field label="App" style={{ minWidth: "240px" }}>
          <Select value={appId} onChange={(_, d) => setPicked(d.value)} disabled={sortedApps.length === 0}>
            {sortedApps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.displayName ?? a.id}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Holder" style={{ minWidth: "320px" }}>
          <Input
            type="search"
            placeholder="Name, user principal name, serial number or id"
            contentBefore={<SearchRegular aria-hidden />}
            value={holderText}
            onChange={(_, d) => setHolderText(d.value)}
          />
        </Field>
        <CsvExportButton
          fileName="license-history.csv"
          disabled={rows.length === 0}
          build={() =>
            downloadRowsAsCsv(
              rows as unknown as Record<string, unknown>[],
              csvColumns,
              `license-history-${(app?.displayName ?? appId).replace(/[^\w.-]+/g, "_")}.csv`,
            )
          }
        />
        {appId && !loading ? (
          <Text aria-live="polite" style={{ color: tokens.colorNeutralForeground2, paddingBottom: "6px" }}>
            {rows.length.toLocaleString()} events loaded
            {q.hasNextPage ? " · more load as you scroll (export writes the loaded ones)" : ""}
          </Text>
        ) : null}
      </Toolbar>
      {error ? <ErrorBar error={error} onRetry={() => (q.error ? q.refetch() : holders.refetch())} /> : null}
      <DataTable<LicenseEvent>
        label="License history"
        rows={rows}
        getRowId={(e) => e.id}
        onEndReached={onEndReached}
        loadingMore={q.isFetchingNextPage}
        columns={[
          {
            key: "occurredDateTime",
            header: "When",
            width: "190px",
            sortable: false,
            render: (e) => when(e.occurredDateTime),
          },
          { key: "holder", header: "Holder", sortable: false, render: holderLink },
          {
            key: "holderType",
            header: "Type",
            width: "80px",
            sortable: false,
            render: (e) => (e.holderType === "user" ? "User" : "Device"),
          },
          {
            key: "change",
            header: "Change",
            width: "220px",
            sortable: false,
            render: (e) => (
              <>
                {e.fromState ? <StateBadge state={e.fromState} /> : "—"} → <StateBadge state={e.toState} />
              </>
            ),
          },
          { key: "reason", header: "Why", sortable: false, render: (e) => reasonText(e.reason) || "—" },
        ]}
        empty={
          <EmptyState
            title={
              loading
                ? "Loading…"
                : noHolderMatches
                  ? "No holder matches"
                  : holder
                    ? "No license events for this holder"
                    : "No license events yet"
            }
          >
            {loading
              ? null
              : noHolderMatches
                ? `Nobody who held or waited for ${app?.displayName ?? "this app"} matches “${holder}”.`
                : sortedApps.length === 0
                  ? "License events (assigned, waiting, released, revoked) appear here after assignments are applied."
                  : `License events of ${app?.displayName ?? "this app"} (assigned, waiting, released, revoked) appear here after its assignments are applied.`}
          </EmptyState>
        }
      />
    </>
  );
}
