// Apps and books: one row per (token, app) with license counts and a usage bar; search, filters
// (token, platform, running out), CSV export. /apps/:id opens the app's detail.
import {
  Checkbox,
  Dropdown,
  Field,
  Link as FluentLink,
  Input,
  makeStyles,
  Option,
  Spinner,
  tokens,
} from "@fluentui/react-components";
import { AppsRegular, SearchRegular } from "@fluentui/react-icons";
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useMemo, useState } from "react";
import { Link, Route, Switch, useLocation } from "wouter";
import { downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { UsageBar } from "../../components/UsageBar.tsx";
import { TOKENS_PATH, tokenName, type VppToken } from "../tokens/tokenModel.ts";
import { APPS_PATH, BOOKS_PATH, countsOf, platformOf, runningOut, type StoreApp } from "./appModel.ts";

const AppDetail = lazy(() => import("./AppDetail.tsx"));

const useStyles = makeStyles({
  filters: { display: "flex", gap: "12px", alignItems: "end", flexWrap: "wrap", marginBottom: "12px" },
  name: { display: "flex", flexDirection: "column", lineHeight: "16px", minWidth: 0 },
  sub: { color: tokens.colorNeutralForeground3, fontSize: tokens.fontSizeBase200 },
  warn: { color: tokens.colorPaletteRedForeground1 },
});

export default function Apps() {
  return (
    <Switch>
      <Route path="/:id">
        {(p) => (
          <Suspense fallback={<Spinner label="Loading app…" />}>
            <AppDetail id={p.id} />
          </Suspense>
        )}
      </Route>
      <Route>
        <AppList />
      </Route>
    </Switch>
  );
}

function AppList() {
  const s = useStyles();
  const [, navigate] = useLocation();
  const [search, setSearch] = useState("");
  const [token, setToken] = useState("");
  const [platform, setPlatform] = useState("");
  const [short, setShort] = useState(false);

  const apps = useQuery({
    queryKey: ["storeApps"],
    queryFn: async () => {
      const [a, b] = await Promise.all([
        getAll<StoreApp>(APPS_PATH, { limit: 20_000 }),
        getAll<StoreApp>(BOOKS_PATH, { limit: 20_000 }).catch(() => [] as StoreApp[]),
      ]);
      // Only store (VPP) apps carry licenses; other mobileApp kinds have no token.
      return [...a.filter((x) => x.vppTokenId), ...b];
    },
  });
  const tokensQ = useQuery({ queryKey: ["vppTokens"], queryFn: () => getAll<VppToken>(TOKENS_PATH) });
  const tokenNames = useMemo(
    () => new Map((tokensQ.data ?? []).map((t) => [t.id, tokenName(t)])),
    [tokensQ.data],
  );
  const tokenOf = (a: StoreApp) =>
    tokenNames.get(a.vppTokenId) ??
    a.vppTokenDisplayName ??
    a.vppTokenOrganizationName ??
    a.vppOrganizationName ??
    "";

  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return (apps.data ?? []).filter(
      (a) =>
        (!token || a.vppTokenId === token) &&
        (!platform || platformOf(a) === platform) &&
        (!short || runningOut(a)) &&
        (!needle ||
          [a.displayName, a.publisher, a.bundleId, a.adamId].some((v) => v?.toLowerCase().includes(needle))),
    );
  }, [apps.data, search, token, platform, short]);

  const columns: Column<StoreApp>[] = [
    {
      key: "displayName",
      header: "Name",
      // No width: the name takes what the counts leave (the table stays readable at 1024 px). The
      // token is on the second line with the publisher: one row per (token, app).
      render: (a) => (
        <span className={s.name}>
          <Link href={`/${a.id}`} asChild>
            <FluentLink>{a.displayName ?? a.adamId ?? a.id}</FluentLink>
          </Link>
          <span className={s.sub}>{[a.publisher, tokenOf(a)].filter(Boolean).join(" · ")}</span>
        </span>
      ),
    },
    { key: "platform", header: "Platform", width: "76px", sortValue: platformOf, render: platformOf },
    {
      key: "usage",
      header: "Usage",
      width: "150px",
      sortValue: (a) => (a.totalLicenseCount ? a.usedLicenseCount / a.totalLicenseCount : a.usedLicenseCount),
      render: (a) => {
        const c = countsOf(a);
        return (
          <UsageBar
            used={c.used}
            total={c.total}
            pending={c.pending}
            label={`${a.displayName}: ${c.used} of ${c.total} used`}
          />
        );
      },
    },
    { key: "totalLicenseCount", header: "Total", width: "60px", align: "end" },
    { key: "usedLicenseCount", header: "Used", width: "60px", align: "end" },
    {
      key: "available",
      header: "Available",
      width: "84px",
      align: "end",
      sortValue: (a) => countsOf(a).available,
      render: (a) => {
        const v = countsOf(a).available;
        return runningOut(a) ? <span className={s.warn}>{v} (running out)</span> : v;
      },
    },
    {
      key: "revoked",
      header: "Revoked",
      width: "76px",
      align: "end",
      sortValue: (a) => countsOf(a).revoked,
      render: (a) => countsOf(a).revoked,
    },
    {
      key: "pending",
      header: "Pending",
      width: "72px",
      align: "end",
      sortValue: (a) => countsOf(a).pending,
      render: (a) => countsOf(a).pending,
    },
  ];

  const csv = () =>
    downloadRowsAsCsv(
      rows.map((a) => ({ ...a, ...countsOf(a), platform: platformOf(a), token: tokenOf(a) })),
      [
        { key: "displayName", header: "Name" },
        { key: "publisher", header: "Publisher" },
        { key: "platform", header: "Platform" },
        { key: "token", header: "Token" },
        { key: "adamId", header: "Adam ID" },
        { key: "total", header: "Total" },
        { key: "used", header: "Used" },
        { key: "available", header: "Available" },
        { key: "revoked", header: "Revoked" },
        { key: "pending", header: "Pending" },
        { key: "unitPrice", header: "Unit price" },
      ],
      "apps-and-books.csv",
    );

  const noData = (apps.data?.length ?? 0) === 0;
  return (
    <>
      <PageHeader
        title="Apps and books"
        description="One row per token and app: licenses total, used, available, revoked and pending; assignments."
        actions={<CsvExportButton fileName="apps-and-books.csv" build={csv} disabled={!rows.length} />}
      />
      <ErrorBar error={apps.error} title="Apps could not be loaded" onRetry={() => apps.refetch()} />
      <div className={s.filters}>
        <Field label="Search">
          <Input
            contentBefore={<SearchRegular />}
            placeholder="Name, publisher, bundle id…"
            value={search}
            onChange={(_, d) => setSearch(d.value)}
          />
        </Field>
        <Field label="Token">
          <Dropdown
            value={token ? (tokenNames.get(token) ?? token) : "All tokens"}
            selectedOptions={[token]}
            onOptionSelect={(_, d) => setToken(d.optionValue ?? "")}
          >
            <Option value="">All tokens</Option>
            {(tokensQ.data ?? []).map((t) => (
              <Option key={t.id} value={t.id}>
                {tokenName(t)}
              </Option>
            ))}
          </Dropdown>
        </Field>
        <Field label="Platform">
          <Dropdown
            value={platform || "All platforms"}
            selectedOptions={[platform]}
            onOptionSelect={(_, d) => setPlatform(d.optionValue ?? "")}
          >
            <Option value="">All platforms</Option>
            <Option value="iOS">iOS</Option>
            <Option value="macOS">macOS</Option>
            <Option value="Book">Book</Option>
          </Dropdown>
        </Field>
        <Checkbox checked={short} onChange={(_, d) => setShort(!!d.checked)} label="Running out only" />
      </div>
      {apps.isPending ? (
        <Spinner label="Loading apps…" />
      ) : (
        <DataTable
          label="Apps and books"
          columns={columns}
          rows={rows}
          getRowId={(a) => `${a.vppTokenId}:${a.id}`}
          rowHeight={48}
          onRowClick={(a) => navigate(`/${a.id}`)}
          defaultSort={{ key: "displayName", direction: "ascending" }}
          empty={
            noData ? (
              <EmptyState
                icon={<AppsRegular />}
                title="No apps yet"
                action={
                  <Link href="~/tokens" asChild>
                    <FluentLink>Go to VPP tokens</FluentLink>
                  </Link>
                }
              >
                Apps and books appear here after a VPP token is uploaded and synced. Upload a token, or run
                "Sync now" on one after buying apps in Apple Business Manager.
              </EmptyState>
            ) : (
              <EmptyState title="Nothing matches these filters">
                Clear the search or filters to see every app.
              </EmptyState>
            )
          }
        />
      )}
    </>
  );
}
