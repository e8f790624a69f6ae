// Licenses and reports: utilization per (token, app), the waitlist, licenses held outside Allot
// (untracked), and license history (who held an app's license when: LicenseHistory.tsx, server-paged).
// Every report exports CSV.
import { Field, Input, Select, Tab, TabList } from "@fluentui/react-components";
import { DataBarVerticalRegular } from "@fluentui/react-icons";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "wouter";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { UsageBar } from "../../components/UsageBar.tsx";
import { Toolbar } from "../users/serverList.tsx";
import { LicenseHistory } from "./LicenseHistory.tsx";

interface StoreApp {
  id: string;
  displayName: string;
  vppTokenId?: string;
  totalLicenseCount: number;
  usedLicenseCount: number;
  availableLicenseCount?: number;
  pendingLicenseCount?: number;
  untrackedLicenseCount?: number;
  revokedLicenseCount?: number;
  unitPrice?: number | null;
}
interface VppToken {
  id: string;
  displayName?: string;
  organizationName?: string;
}
interface Summary {
  waitingCount: number;
  waitingByApp: { appId: string; displayName: string | null; waitingCount: number }[];
  /** Only the latest one: its app is the history tab's first pick. */
  recentLicenseEvents: { appId: string }[];
}

type Row = StoreApp & { token: string; waiting: number };

const csv = (rows: readonly object[], cols: { key: string; header: string }[], name: string) =>
  downloadRowsAsCsv(rows as Record<string, unknown>[], cols, name);

export default function Licenses() {
  const [tab, setTab] = useState("utilization");
  const [search, setSearch] = useState("");
  const [tokenId, setTokenId] = useState("");
  const apps = useQuery({
    queryKey: ["licenses", "apps"],
    queryFn: async () => [
      ...(await getAll<StoreApp>("/beta/deviceAppManagement/mobileApps/microsoft.graph.iosVppApp?$top=999", {
        limit: 20000,
      })),
      ...(await getAll<StoreApp>("/beta/deviceAppManagement/managedEBooks?$top=999", { limit: 20000 })),
    ],
  });
  const tokens = useQuery({
    queryKey: ["licenses", "tokens"],
    queryFn: () => getAll<VppToken>("/beta/deviceAppManagement/vppTokens"),
  });
  const summary = useQuery({
    queryKey: ["licenses", "summary"],
    queryFn: () => api<Summary>("/beta/console/summary?events=1"),
  });
  const tokenName = useMemo(() => {
    const m = new Map((tokens.data ?? []).map((t) => [t.id, t.displayName || t.organizationName || t.id]));
    return (id?: string) => (id ? (m.get(id) ?? id) : "—");
  }, [tokens.data]);
  const waitingOf = useMemo(
    () => new Map((summary.data?.waitingByApp ?? []).map((w) => [w.appId, w.waitingCount])),
    [summary.data],
  );
  const rows: Row[] = useMemo(() => {
    const t = search.trim().toLowerCase();
    return (apps.data ?? [])
      .filter(
        (a) => (!tokenId || a.vppTokenId === tokenId) && (!t || a.displayName.toLowerCase().includes(t)),
      )
      .map((a) => ({ ...a, token: tokenName(a.vppTokenId), waiting: waitingOf.get(a.id) ?? 0 }));
  }, [apps.data, search, tokenId, tokenName, waitingOf]);

  const utilCols: Column<Row>[] = [
    {
      key: "displayName",
      header: "App or book",
      render: (r) => <Link href={`~/apps/${r.id}`}>{r.displayName}</Link>,
    },
    { key: "token", header: "VPP token", width: "16%" },
    {
      key: "usage",
      header: "Usage",
      width: "22%",
      sortValue: (r) => (r.totalLicenseCount ? r.usedLicenseCount / r.totalLicenseCount : 0),
      render: (r) => (
        <UsageBar
          used={r.usedLicenseCount}
          total={r.totalLicenseCount}
          pending={r.pendingLicenseCount ?? 0}
        />
      ),
    },
    { key: "totalLicenseCount", header: "Total", width: "80px", align: "end" },
    { key: "usedLicenseCount", header: "Used", width: "80px", align: "end" },
    { key: "availableLicenseCount", header: "Available", width: "90px", align: "end" },
    { key: "waiting", header: "Waiting", width: "80px", align: "end" },
    { key: "untrackedLicenseCount", header: "Untracked", width: "95px", align: "end" },
  ];
  const utilCsv = [
    "displayName",
    "token",
    "totalLicenseCount",
    "usedLicenseCount",
    "availableLicenseCount",
    "pendingLicenseCount",
    "waiting",
    "untrackedLicenseCount",
    "revokedLicenseCount",
    "unitPrice",
    "id",
  ].map((k) => ({ key: k, header: k }));

  const waitRows = rows.filter((r) => r.waiting > 0).sort((a, b) => b.waiting - a.waiting);
  const untrackedRows = rows.filter((r) => (r.untrackedLicenseCount ?? 0) > 0);

  const error = apps.error ?? tokens.error ?? summary.error;
  const loading = apps.isLoading || summary.isLoading;
  const noApps = !loading && (apps.data?.length ?? 0) === 0;
  const emptyApps = (
    <EmptyState
      icon={<DataBarVerticalRegular />}
      title={loading ? "Loading…" : noApps ? "No licenses yet" : "Nothing matches"}
    >
      {loading ? null : noApps ? (
        <>
          Upload a VPP token on <Link href="~/tokens">VPP tokens</Link>; its apps, books and license counts
          appear here after the first sync.
        </>
      ) : (
        "Change the search or the token filter."
      )}
    </EmptyState>
  );

  return (
    <>
      <PageHeader
        title="Licenses and reports"
        description="Utilization, waitlist, licenses assigned outside Allot, and license history."
      />
      {error ? (
        <ErrorBar
          error={error}
          onRetry={() => {
            void apps.refetch();
            void tokens.refetch();
            void summary.refetch();
          }}
        />
      ) : null}
      <TabList selectedValue={tab} onTabSelect={(_, d) => setTab(String(d.value))} aria-label="Reports">
        <Tab value="utilization">Utilization</Tab>
        <Tab value="waitlist">Waitlist ({summary.data?.waitingCount ?? "…"})</Tab>
        <Tab value="untracked">Untracked licenses</Tab>
        <Tab value="history">License history</Tab>
      </TabList>
      {tab !== "history" && (
        <Toolbar
          count={
            tab === "utilization" ? rows.length : tab === "waitlist" ? waitRows.length : untrackedRows.length
          }
        >
          <Field label="Search apps and books">
            <Input type="search" value={search} onChange={(_, d) => setSearch(d.value)} />
          </Field>
          <Field label="VPP token">
            <Select value={tokenId} onChange={(_, d) => setTokenId(d.value)}>
              <option value="">All tokens</option>
              {(tokens.data ?? []).map((t) => (
                <option key={t.id} value={t.id}>
                  {tokenName(t.id)}
                </option>
              ))}
            </Select>
          </Field>
          <CsvExportButton
            fileName={`${tab}.csv`}
            build={() =>
              csv(
                tab === "utilization" ? rows : tab === "waitlist" ? waitRows : untrackedRows,
                utilCsv,
                `${tab}.csv`,
              )
            }
          />
        </Toolbar>
      )}
      {tab === "utilization" && (
        <DataTable<Row>
          label="License utilization"
          columns={utilCols}
          rows={rows}
          getRowId={(r) => r.id}
          defaultSort={{ key: "usage", direction: "descending" }}
          empty={emptyApps}
        />
      )}
      {tab === "waitlist" && (
        <DataTable<Row>
          label="Waitlist by app"
          columns={[
            utilCols[0],
            utilCols[1],
            { key: "waiting", header: "Waiting", width: "100px", align: "end" },
            utilCols[2],
            utilCols[5],
          ]}
          rows={waitRows}
          getRowId={(r) => r.id}
          empty={
            <EmptyState title={loading ? "Loading…" : "Nobody is waiting"}>
              {loading
                ? null
                : "Every assigned user and device holds its license. When an app runs out, the users and devices waiting for it are listed here; buy more licenses at Apple to shrink the waitlist."}
            </EmptyState>
          }
        />
      )}
      {tab === "untracked" && (
        <DataTable<Row>
          label="Untracked licenses"
          columns={[
            utilCols[0],
            utilCols[1],
            { key: "untrackedLicenseCount", header: "Untracked", width: "110px", align: "end" },
            utilCols[3],
            utilCols[4],
          ]}
          rows={untrackedRows}
          getRowId={(r) => r.id}
          empty={
            <EmptyState title={loading ? "Loading…" : "No untracked licenses"}>
              {loading
                ? null
                : "Licenses assigned at Apple outside Allot (by another MDM or Apple Business Manager) appear here. Revoke them from the token with “revoke untracked licenses”."}
            </EmptyState>
          }
        />
      )}
      {tab === "history" && (
        <LicenseHistory
          apps={apps.data ?? []}
          defaultAppId={summary.data?.recentLicenseEvents[0]?.appId}
          loading={apps.isLoading}
        />
      )}
    </>
  );
}
