// Devices: server-paged list with search (device name / serial starts with), OS filter, $count, CSV
// export; a device's detail: facts, groups, licenses held (revoke one or all), request an Available app.
import {
  Button,
  Field,
  Link as FluentLink,
  MessageBar,
  MessageBarBody,
  Select,
} from "@fluentui/react-components";
import { PhoneLaptopRegular } from "@fluentui/react-icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, Route, Switch, useLocation, useParams } from "wouter";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable, type SortState } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { HolderLicenses } from "../users/HolderLicenses.tsx";
import {
  Facts,
  lit,
  orderBy,
  SearchField,
  Section,
  Toolbar,
  useDebounced,
  useServerList,
  when,
} from "../users/serverList.tsx";

interface Device {
  id: string;
  deviceName: string;
  serialNumber: string | null;
  operatingSystem: string;
  osVersion: string | null;
  managedDeviceOwnerType?: string;
  isSupervised?: boolean;
  userId: string | null;
  userPrincipalName: string | null;
  enrolledDateTime?: string | null;
}

const columns: Column<Device>[] = [
  { key: "deviceName", header: "Device", render: (d) => <Link href={`/${d.id}`}>{d.deviceName}</Link> },
  { key: "serialNumber", header: "Serial number" },
  { key: "operatingSystem", header: "OS", width: "110px" },
  { key: "osVersion", header: "OS version", width: "110px", sortable: false },
  { key: "userPrincipalName", header: "Primary user", sortable: false },
  {
    key: "isSupervised",
    header: "Supervised",
    width: "110px",
    sortable: false,
    render: (d) => (d.isSupervised ? "Yes" : "No"),
  },
];

const csvColumns = [
  "deviceName",
  "serialNumber",
  "operatingSystem",
  "osVersion",
  "userPrincipalName",
  "isSupervised",
  "id",
].map((k) => ({
  key: k,
  header: k,
}));

function DeviceList() {
  const [search, setSearch] = useState("");
  const [os, setOs] = useState("");
  const term = useDebounced(search.trim());
  const [sort, setSort] = useState<SortState>({ key: "deviceName", direction: "ascending" });
  const [, navigate] = useLocation();
  const parts = [
    term ? `(startswith(deviceName,${lit(term)}) or startswith(serialNumber,${lit(term)}))` : "",
    os ? `operatingSystem eq ${lit(os)}` : "",
  ].filter(Boolean);
  const filter = parts.length ? parts.join(" and ") : undefined;
  const list = useServerList<Device>(["devices"], "/beta/deviceManagement/managedDevices", {
    $top: 200,
    $filter: filter,
    $orderby: orderBy(sort),
  });
  return (
    <>
      <PageHeader
        title="Devices"
        description="Managed devices reported by your MDM or imported: their groups, device licenses and app install requests."
        actions={
          <CsvExportButton
            fileName="devices.csv"
            build={async () =>
              downloadRowsAsCsv(
                (await getAll<Device>(
                  `/beta/deviceManagement/managedDevices?$top=999${filter ? `&$filter=${encodeURIComponent(filter)}` : ""}`,
                )) as never,
                csvColumns,
                "devices.csv",
              )
            }
          />
        }
      />
      <Toolbar count={list.count} loaded={list.rows.length}>
        <SearchField
          label="Search devices"
          hint="Device name or serial number starts with…"
          value={search}
          onChange={setSearch}
        />
        <Field label="Operating system">
          <Select value={os} onChange={(_, d) => setOs(d.value)}>
            <option value="">All</option>
            <option>iOS</option>
            <option>iPadOS</option>
            <option>macOS</option>
            <option>Windows</option>
          </Select>
        </Field>
      </Toolbar>
      {list.q.error ? <ErrorBar error={list.q.error} onRetry={() => list.q.refetch()} /> : null}
      <DataTable<Device>
        label="Devices"
        columns={columns}
        rows={list.rows}
        getRowId={(d) => d.id}
        sort={sort}
        onSortChange={setSort}
        onEndReached={list.onEndReached}
        loadingMore={list.loadingMore}
        onRowClick={(d) => navigate(`/${d.id}`)}
        empty={
          list.q.isLoading ? (
            <EmptyState title="Loading devices…" />
          ) : filter ? (
            <EmptyState title="No matching devices">
              Change the search or the operating system filter.
            </EmptyState>
          ) : (
            <EmptyState icon={<PhoneLaptopRegular />} title="No devices yet">
              Connect your MDM under Settings (MDM bridge), import devices from a CSV file (POST /beta/imports
              with type devices), or create them with the API.
            </EmptyState>
          )
        }
      />
    </>
  );
}

interface App {
  id: string;
  displayName: string;
}

function RequestInstall(props: { deviceId: string }) {
  const can = useCan("devices.installRequest");
  const [appId, setAppId] = useState("");
  const apps = useQuery({
    queryKey: ["vppAppsForRequest"],
    queryFn: () =>
      getAll<App>(
        "/beta/deviceAppManagement/mobileApps/microsoft.graph.iosVppApp?$top=200&$orderby=displayName",
        { limit: 1000 },
      ),
    enabled: can,
  });
  const m = useMutation({
    mutationFn: () =>
      api<Record<string, unknown>>(
        `/beta/deviceManagement/managedDevices/${props.deviceId}/requestAppInstall`,
        {
          method: "POST",
          body: { mobileAppId: appId },
        },
      ),
  });
  if (!can) return <p>Your role cannot request app installs.</p>;
  return (
    <>
      <div style={{ display: "flex", gap: 8, alignItems: "flex-end", flexWrap: "wrap" }}>
        <Field
          label="App made Available to this device"
          hint="A license is taken only when the install is requested."
        >
          <Select value={appId} onChange={(_, d) => setAppId(d.value)} style={{ minWidth: 280 }}>
            <option value="">Choose an app…</option>
            {(apps.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.displayName}
              </option>
            ))}
          </Select>
        </Field>
        <Button appearance="primary" disabled={!appId || m.isPending} onClick={() => m.mutate()}>
          {m.isPending ? "Requesting…" : "Request install"}
        </Button>
      </div>
      {m.error ? <ErrorBar error={m.error} /> : null}
      {m.data ? (
        <MessageBar intent="success" role="status">
          <MessageBarBody>
            Install requested{typeof m.data.status === "string" ? `: ${m.data.status}` : ""}
            {typeof m.data.reason === "string" ? ` (${m.data.reason})` : ""}.
          </MessageBarBody>
        </MessageBar>
      ) : null}
      {apps.error ? <ErrorBar error={apps.error} onRetry={() => apps.refetch()} /> : null}
    </>
  );
}

function DeviceDetail() {
  const { id } = useParams<{ id: string }>();
  const canRevoke = useCan("licenses.revoke");
  const qc = useQueryClient();
  const [revokeAll, setRevokeAll] = useState(false);
  const dev = useQuery({
    queryKey: ["device", id],
    queryFn: () => api<Device>(`/beta/deviceManagement/managedDevices/${encodeURIComponent(id)}`),
  });
  const groups = useQuery({
    queryKey: ["device", id, "memberOf"],
    queryFn: () =>
      getAll<{ id: string; displayName: string }>(`/beta/deviceManagement/managedDevices/${id}/memberOf`, {
        limit: 5000,
      }),
  });
  const d = dev.data;
  return (
    <>
      <PageHeader
        title={d?.deviceName ?? "Device"}
        description={
          d ? `${d.operatingSystem} ${d.osVersion ?? ""} · serial ${d.serialNumber ?? "unknown"}` : undefined
        }
        actions={
          <>
            {canRevoke && (
              <Button onClick={() => setRevokeAll(true)} disabled={!d}>
                Revoke all VPP licenses
              </Button>
            )}
            <Link href="/" asChild>
              <FluentLink>Back to devices</FluentLink>
            </Link>
          </>
        }
      />
      {dev.error ? <ErrorBar error={dev.error} onRetry={() => dev.refetch()} /> : null}
      <Facts
        items={[
          [
            "Primary user",
            // biome-ignore lint/correctness/useJsxKeyInIterable: a [label, value] pair, not a rendered list
            d?.userId ? <Link href={`~/users/${d.userId}`}>{d.userPrincipalName ?? d.userId}</Link> : "None",
          ],
          ["Ownership", d?.managedDeviceOwnerType],
          ["Supervised", d ? (d.isSupervised ? "Yes" : "No") : null],
          ["Enrolled", when(d?.enrolledDateTime)],
        ]}
      />
      <Section title="Licenses held">
        {d ? <HolderLicenses holder="device" id={d.id} name={d.deviceName} /> : null}
      </Section>
      <Section title="Request an Available app">{d ? <RequestInstall deviceId={d.id} /> : null}</Section>
      <Section title="Groups">
        {groups.error ? (
          <ErrorBar error={groups.error} onRetry={() => groups.refetch()} />
        ) : (
          <DataTable
            label="Groups of the device"
            height="200px"
            rows={groups.data ?? []}
            getRowId={(g) => g.id}
            columns={[
              {
                key: "displayName",
                header: "Group",
                render: (g) => <Link href={`~/groups/${g.id}`}>{g.displayName}</Link>,
              },
            ]}
            empty={
              <EmptyState title={groups.isLoading ? "Loading…" : "No groups"}>
                {groups.isLoading ? null : "The device is in no group."}
              </EmptyState>
            }
          />
        )}
      </Section>
      <ConfirmDialog
        open={revokeAll}
        title="Revoke every VPP license of this device?"
        confirmLabel="Revoke all"
        destructive
        onClose={() => setRevokeAll(false)}
        onConfirm={async () => {
          await api(`/beta/deviceManagement/managedDevices/${id}/revokeAppleVppLicenses`, { method: "POST" });
          await qc.invalidateQueries({ queryKey: ["holderLicenses"] });
        }}
      >
        Apple releases every device license of serial number {d?.serialNumber ?? "—"}. Apps stay installed;
        assignments that still target the device may license it again.
      </ConfirmDialog>
    </>
  );
}

export default function Devices() {
  return (
    <Switch>
      <Route path="/:id" component={DeviceDetail} />
      <Route component={DeviceList} />
    </Switch>
  );
}
