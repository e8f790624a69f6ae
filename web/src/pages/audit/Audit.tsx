// Audit log: server-paged, filtered on the server ($filter on date range, actor, activity, category),
// exported through the CSV export route with the same $filter.
import { Button, Field, Input, Select } from "@fluentui/react-components";
import { HistoryRegular } from "@fluentui/react-icons";
import { useState } from "react";
import { odataPath } from "../../api/client.ts";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable, type SortState } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { lit, orderBy, Toolbar, useDebounced, useServerList, when } from "../users/serverList.tsx";

interface AuditEvent {
  id: string;
  displayName: string;
  componentName: string;
  category: string;
  activity: string;
  activityDateTime: string;
  activityOperationType: string;
  activityResult: string;
  actor: {
    auditActorType?: string;
    userPrincipalName?: string | null;
    applicationDisplayName?: string | null;
  };
  resources: { displayName?: string; auditResourceType?: string; resourceId?: string }[];
}

const CATEGORIES = [
  "Access",
  "Alerts",
  "Apps",
  "Directory",
  "Imports",
  "Provisioning",
  "Sync",
  "Tenants",
  "Tokens",
];

const columns: Column<AuditEvent>[] = [
  { key: "activityDateTime", header: "Date", width: "190px", render: (e) => when(e.activityDateTime) },
  { key: "activity", header: "Activity" },
  { key: "category", header: "Category", width: "130px" },
  {
    key: "actor",
    header: "Actor",
    sortable: false,
    render: (e) =>
      e.actor.userPrincipalName ?? e.actor.applicationDisplayName ?? e.actor.auditActorType ?? "—",
  },
  {
    key: "resources",
    header: "Target",
    sortable: false,
    render: (e) =>
      e.resources
        .map((r) => r.displayName ?? r.resourceId)
        .filter(Boolean)
        .join(", ") || "—",
  },
  { key: "activityResult", header: "Result", width: "100px" },
];

/** A date input (yyyy-mm-dd, local) → ISO instant at the start (or end) of that day. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  if (Number.isNaN(d.getTime())) return undefined;
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

export default function Audit() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [actor, setActor] = useState("");
  const [activity, setActivity] = useState("");
  const [category, setCategory] = useState("");
  const [sort, setSort] = useState<SortState>({ key: "activityDateTime", direction: "descending" });
  const actorQ = useDebounced(actor.trim());
  const activityQ = useDebounced(activity.trim());
  const start = dayBound(from, false);
  const end = dayBound(to, true);
  const parts = [
    start ? `activityDateTime ge ${start}` : "",
    end ? `activityDateTime lt ${end}` : "",
    actorQ
      ? `(startswith(actor/userPrincipalName,${lit(actorQ)}) or startswith(actor/applicationDisplayName,${lit(actorQ)}))`
      : "",
    activityQ ? `contains(activity,${lit(activityQ)})` : "",
    category ? `category eq ${lit(category)}` : "",
  ].filter(Boolean);
  const filter = parts.length ? parts.join(" and ") : undefined;
  const list = useServerList<AuditEvent>(["audit"], "/beta/deviceManagement/auditEvents", {
    $top: 200,
    $filter: filter,
    $orderby: orderBy(sort),
  });
  const clear = () => {
    setFrom("");
    setTo("");
    setActor("");
    setActivity("");
    setCategory("");
  };
  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every change made in Allot: who did what, when, to which object."
        actions={
          <CsvExportButton
            path={odataPath("/beta/deviceManagement/auditEvents/export", {
              $filter: filter,
              $orderby: orderBy(sort),
            })}
            fileName="audit-events.csv"
          />
        }
      />
      <Toolbar count={list.count} loaded={list.rows.length}>
        <Field label="From (date)">
          <Input type="date" value={from} onChange={(_, d) => setFrom(d.value)} />
        </Field>
        <Field label="To (date)">
          <Input type="date" value={to} onChange={(_, d) => setTo(d.value)} />
        </Field>
        <Field label="Actor" hint="Sign-in name or app starts with…">
          <Input value={actor} onChange={(_, d) => setActor(d.value)} />
        </Field>
        <Field label="Activity contains">
          <Input value={activity} onChange={(_, d) => setActivity(d.value)} />
        </Field>
        <Field label="Category">
          <Select value={category} onChange={(_, d) => setCategory(d.value)}>
            <option value="">All</option>
            {CATEGORIES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </Select>
        </Field>
        <Button onClick={clear} disabled={!filter}>
          Clear filters
        </Button>
      </Toolbar>
      {list.q.error ? <ErrorBar error={list.q.error} onRetry={() => list.q.refetch()} /> : null}
      <DataTable<AuditEvent>
        label="Audit events"
        columns={columns}
        rows={list.rows}
        getRowId={(e) => e.id}
        sort={sort}
        onSortChange={setSort}
        onEndReached={list.onEndReached}
        loadingMore={list.loadingMore}
        empty={
          list.q.isLoading ? (
            <EmptyState title="Loading audit events…" />
          ) : filter ? (
            <EmptyState title="No events match">Widen the date range or clear the filters.</EmptyState>
          ) : (
            <EmptyState icon={<HistoryRegular />} title="No audit events yet">
              Changes (token uploads, assignments, revokes, settings) are recorded here as administrators and
              apps make them.
            </EmptyState>
          )
        }
      />
    </>
  );
}
