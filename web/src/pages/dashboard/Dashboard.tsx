// Dashboard: license utilization across apps (SVG bar chart), apps running out or oversubscribed,
// the waitlist, tokens expiring or unhealthy with their last syncs, and recent license events.
// Reads /beta mobileApps, managedEBooks and vppTokens, and /beta/console/summary.
import {
  Button,
  Card,
  CardHeader,
  makeStyles,
  Skeleton,
  SkeletonItem,
  Text,
  tokens,
} from "@fluentui/react-components";
import { KeyRegular } from "@fluentui/react-icons";
import { useQuery } from "@tanstack/react-query";
import { Link, useLocation } from "wouter";
import { api, getAll } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { StateBadge } from "../../components/StateBadge.tsx";
import { UsageBar } from "../../components/UsageBar.tsx";

interface StoreApp {
  id: string;
  displayName: string;
  vppTokenId?: string;
  totalLicenseCount: number;
  usedLicenseCount: number;
  pendingLicenseCount?: number;
}
interface VppToken {
  id: string;
  displayName?: string;
  organizationName?: string;
  state: string;
  expirationDateTime: string | null;
  lastSyncDateTime: string | null;
  lastSyncStatus: string;
}
interface Summary {
  waitingCount: number;
  waitingByApp: { appId: string; displayName: string | null; waitingCount: number }[];
  recentLicenseEvents: {
    appId: string;
    appDisplayName: string | null;
    holderType: string;
    holderId: string;
    fromState: string | null;
    toState: string;
    reason: string | null;
    occurredDateTime: string;
  }[];
}

const useStyles = makeStyles({
  grid: {
    display: "grid",
    gridTemplateColumns: "repeat(auto-fit, minmax(220px, 1fr))",
    gap: "16px",
    marginBottom: "16px",
  },
  two: {
    display: "grid",
    gridTemplateColumns: "minmax(0, 3fr) minmax(0, 2fr)",
    gap: "16px",
    marginBottom: "16px",
  },
  figure: {
    fontSize: tokens.fontSizeHero800,
    fontWeight: tokens.fontWeightSemibold,
    lineHeight: tokens.lineHeightHero800,
  },
  sub: { color: tokens.colorNeutralForeground2 },
  list: { margin: 0, paddingLeft: "18px", display: "flex", flexDirection: "column", gap: "6px" },
  chart: { width: "100%", display: "block" },
});

const DAY = 86_400_000;
const daysUntil = (iso: string | null) => (iso ? Math.ceil((Date.parse(iso) - Date.now()) / DAY) : null);
const when = (iso: string | null) =>
  iso && !iso.startsWith("0001") ? new Date(iso).toLocaleString() : "never";

/** Horizontal bars: used vs total for the apps with the highest utilization. Text labels carry the numbers. */
function UtilizationChart({ apps }: { apps: StoreApp[] }) {
  const s = useStyles();
  const top = [...apps]
    .filter((a) => a.totalLicenseCount > 0 || a.usedLicenseCount > 0)
    .sort(
      (a, b) =>
        b.usedLicenseCount / Math.max(1, b.totalLicenseCount) -
        a.usedLicenseCount / Math.max(1, a.totalLicenseCount),
    )
    .slice(0, 10);
  if (top.length === 0)
    return <Text className={s.sub}>No licenses yet: they appear after a VPP token's first sync.</Text>;
  const row = 28;
  const labelW = 210;
  const barW = 360;
  return (
    <svg
      className={s.chart}
      viewBox={`0 0 ${labelW + barW + 150} ${top.length * row}`}
      role="img"
      aria-labelledby="util-title util-desc"
    >
      <title id="util-title">License utilization of the 10 most used apps</title>
      <desc id="util-desc">
        {top.map((a) => `${a.displayName}: ${a.usedLicenseCount} of ${a.totalLicenseCount} used`).join("; ")}
      </desc>
      {top.map((a, i) => {
        const ratio = a.totalLicenseCount > 0 ? a.usedLicenseCount / a.totalLicenseCount : 1;
        const color =
          ratio >= 1
            ? tokens.colorPaletteRedBackground3
            : ratio >= 0.9
              ? tokens.colorPaletteMarigoldBackground3
              : tokens.colorBrandBackground;
        const y = i * row;
        return (
          <g key={a.id}>
            <text
              x={labelW - 8}
              y={y + row / 2 + 4}
              textAnchor="end"
              fontSize="12"
              fill={tokens.colorNeutralForeground1}
            >
              {a.displayName.length > 30 ? `${a.displayName.slice(0, 29)}…` : a.displayName}
            </text>
            <rect
              x={labelW}
              y={y + 6}
              width={barW}
              height={row - 12}
              rx="3"
              fill={tokens.colorNeutralBackground5}
            />
            <rect
              x={labelW}
              y={y + 6}
              width={Math.min(1, ratio) * barW}
              height={row - 12}
              rx="3"
              fill={color}
            />
            <text
              x={labelW + barW + 8}
              y={y + row / 2 + 4}
              fontSize="12"
              fill={tokens.colorNeutralForeground1}
            >
              {a.usedLicenseCount} / {a.totalLicenseCount} ({Math.round(ratio * 100)}%)
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export default function Dashboard() {
  const s = useStyles();
  const canUpload = useCan("tokens.write");
  const [, navigate] = useLocation();
  const apps = useQuery({
    queryKey: ["dashboard", "apps"],
    queryFn: async () => [
      ...(await getAll<StoreApp>("/beta/deviceAppManagement/mobileApps?$top=999", { limit: 5000 })),
      ...(await getAll<StoreApp>("/beta/deviceAppManagement/managedEBooks?$top=999", { limit: 5000 })),
    ],
  });
  const vppTokens = useQuery({
    queryKey: ["dashboard", "tokens"],
    queryFn: () => getAll<VppToken>("/beta/deviceAppManagement/vppTokens"),
  });
  const summary = useQuery({
    queryKey: ["dashboard", "summary"],
    queryFn: () => api<Summary>("/beta/console/summary"),
  });

  const all = apps.data ?? [];
  const total = all.reduce((n, a) => n + a.totalLicenseCount, 0);
  const used = all.reduce((n, a) => n + a.usedLicenseCount, 0);
  const short = all.filter((a) =>
    a.totalLicenseCount > 0 ? a.usedLicenseCount / a.totalLicenseCount >= 0.9 : a.usedLicenseCount > 0,
  );
  const unhealthy = (vppTokens.data ?? []).filter(
    (t) =>
      t.state !== "valid" || (daysUntil(t.expirationDateTime) ?? 999) <= 30 || t.lastSyncStatus === "failed",
  );

  if (vppTokens.data && vppTokens.data.length === 0)
    return (
      <>
        <PageHeader title="Dashboard" />
        <EmptyState
          icon={<KeyRegular />}
          title="No VPP token yet"
          action={
            canUpload ? (
              <Button appearance="primary" onClick={() => navigate("/tokens")}>
                Upload a VPP token
              </Button>
            ) : undefined
          }
        >
          Allot learns your apps, books and licenses from Apple. Download a location token (.vpptoken) from
          Apple Business Manager or Apple School Manager (Preferences → Payments and Billing) and upload it on
          the VPP tokens page.{" "}
          {canUpload ? "" : "Ask a Global administrator or Application manager to upload one."}
        </EmptyState>
      </>
    );

  const loading = (
    <Skeleton aria-label="Loading">
      <SkeletonItem size={32} />
    </Skeleton>
  );

  return (
    <>
      <PageHeader
        title="Dashboard"
        description="Licenses across every token, what needs attention, and what changed lately."
      />
      {(
        [
          ["apps", apps],
          ["tokens", vppTokens],
          ["summary", summary],
        ] as const
      ).map(([name, q]) =>
        q.error ? (
          <ErrorBar
            key={name}
            error={q.error}
            title="Part of the dashboard could not be loaded"
            onRetry={() => q.refetch()}
          />
        ) : null,
      )}
      <section className={s.grid} aria-label="Key figures">
        <Card>
          <CardHeader header={<Text weight="semibold">Licenses in use</Text>} />
          {apps.data ? (
            <>
              <span className={s.figure}>{total ? `${Math.round((used / total) * 100)}%` : "–"}</span>
              <UsageBar used={used} total={total} label="Licenses in use across all apps" />
            </>
          ) : (
            loading
          )}
        </Card>
        <Card>
          <CardHeader header={<Text weight="semibold">Running out or oversubscribed</Text>} />
          {apps.data ? <span className={s.figure}>{short.length}</span> : loading}
          <Text className={s.sub}>apps with 90 % or more of their licenses used</Text>
        </Card>
        <Card>
          <CardHeader header={<Text weight="semibold">Waitlist</Text>} />
          {summary.data ? <span className={s.figure}>{summary.data.waitingCount}</span> : loading}
          <Text className={s.sub}>users and devices waiting for a license</Text>
        </Card>
        <Card>
          <CardHeader header={<Text weight="semibold">Tokens needing attention</Text>} />
          {vppTokens.data ? <span className={s.figure}>{unhealthy.length}</span> : loading}
          <Text className={s.sub}>expired, invalid, expiring within 30 days or failed to sync</Text>
        </Card>
      </section>
      <div className={s.two}>
        <Card>
          <CardHeader
            header={
              <Text as="h2" weight="semibold" size={400}>
                License utilization
              </Text>
            }
          />
          {apps.data ? <UtilizationChart apps={all} /> : loading}
        </Card>
        <Card>
          <CardHeader
            header={
              <Text as="h2" weight="semibold" size={400}>
                Running out or oversubscribed
              </Text>
            }
          />
          {short.length === 0 ? (
            <Text className={s.sub}>
              {apps.data ? "Every app has more than 10 % of its licenses free." : "Loading…"}
            </Text>
          ) : (
            <ul className={s.list}>
              {short.slice(0, 8).map((a) => (
                <li key={a.id}>
                  <Link href={`/apps/${a.id}`}>{a.displayName}</Link>
                  <UsageBar
                    used={a.usedLicenseCount}
                    total={a.totalLicenseCount}
                    label={`${a.displayName} licenses`}
                  />
                </li>
              ))}
            </ul>
          )}
          {summary.data && summary.data.waitingByApp.length > 0 && (
            <>
              <Text weight="semibold">Most waiting</Text>
              <ul className={s.list}>
                {summary.data.waitingByApp.slice(0, 5).map((w) => (
                  <li key={w.appId}>
                    {w.displayName ?? w.appId}: {w.waitingCount} waiting
                  </li>
                ))}
              </ul>
            </>
          )}
        </Card>
      </div>
      <div className={s.two}>
        <Card>
          <CardHeader
            header={
              <Text as="h2" weight="semibold" size={400}>
                VPP tokens and last syncs
              </Text>
            }
          />
          <DataTable
            label="VPP tokens"
            rows={vppTokens.data ?? []}
            getRowId={(t) => t.id}
            height="260px"
            columns={[
              {
                key: "displayName",
                header: "Token",
                render: (t) => t.displayName ?? t.organizationName ?? t.id,
                sortValue: (t) => t.displayName ?? t.organizationName,
              },
              {
                key: "state",
                header: "State",
                render: (t) => <StateBadge state={t.state} />,
                width: "100px",
              },
              {
                key: "expirationDateTime",
                header: "Expires",
                width: "110px",
                render: (t) => {
                  const d = daysUntil(t.expirationDateTime);
                  return d === null ? "–" : d < 0 ? "expired" : `in ${d} day${d === 1 ? "" : "s"}`;
                },
              },
              {
                key: "lastSyncDateTime",
                header: "Last sync",
                // The card is narrow (fixed layout): status and time share one column.
                render: (t) => (
                  <span style={{ display: "flex", gap: 6, alignItems: "center", whiteSpace: "nowrap" }}>
                    <StateBadge state={t.lastSyncStatus} />
                    {when(t.lastSyncDateTime)}
                  </span>
                ),
                width: "190px",
              },
            ]}
          />
        </Card>
        <Card>
          <CardHeader
            header={
              <Text as="h2" weight="semibold" size={400}>
                Recent license events
              </Text>
            }
          />
          {summary.data && summary.data.recentLicenseEvents.length === 0 && (
            <Text className={s.sub}>No license has been assigned or released yet.</Text>
          )}
          <ul className={s.list}>
            {summary.data?.recentLicenseEvents.map((e) => (
              <li key={`${e.occurredDateTime}-${e.holderId}-${e.toState}`}>
                <StateBadge state={e.toState} /> {e.appDisplayName ?? e.appId} · {e.holderType} ·{" "}
                {new Date(e.occurredDateTime).toLocaleString()}
                {e.reason ? ` · ${e.reason}` : ""}
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </>
  );
}
