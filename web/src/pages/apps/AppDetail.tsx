// One app or book: metadata, version and update state, counts, unit price, assignments (with the
// editor and its dry run), every user's and device's license status with the reason for each wait or
// failure, revoke actions (all, user, device) with the notify option, and the prompt-matrix preview.
import {
  Button,
  Card,
  Checkbox,
  Dropdown,
  Field,
  Link as FluentLink,
  Input,
  MessageBar,
  MessageBarBody,
  makeStyles,
  Option,
  Spinner,
  Text,
  tokens,
} from "@fluentui/react-components";
import { ArrowLeftRegular, DeleteRegular, EditRegular, SearchRegular } from "@fluentui/react-icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link } from "wouter";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { StateBadge } from "../../components/StateBadge.tsx";
import { UsageBar } from "../../components/UsageBar.tsx";
import { formatDateTime } from "../tokens/tokenModel.ts";
import { AssignmentEditor } from "./AssignmentEditor.tsx";
import {
  APPS_PATH,
  type Assignment,
  BOOKS_PATH,
  countsOf,
  type Holding,
  kindOf,
  money,
  platformOf,
  reasonText,
  type StoreApp,
  targetLabel,
} from "./appModel.ts";

const useStyles = makeStyles({
  grid: {
    display: "grid",
    gridTemplateColumns: "repeat(auto-fit, minmax(280px, 1fr))",
    gap: "12px",
    marginBottom: "16px",
  },
  dl: { display: "grid", gridTemplateColumns: "max-content 1fr", gap: "4px 12px", margin: 0 },
  dt: { color: tokens.colorNeutralForeground3 },
  dd: { margin: 0, overflowWrap: "anywhere" },
  h2: { margin: "16px 0 8px" },
  bar: { display: "flex", gap: "8px", alignItems: "end", flexWrap: "wrap", marginBottom: "8px" },
  counts: { display: "flex", gap: "16px", flexWrap: "wrap", marginTop: "8px" },
  reason: { color: tokens.colorNeutralForeground2 },
});

interface Device {
  id: string;
  deviceName: string;
}

export default function AppDetail({ id }: { id: string }) {
  const s = useStyles();
  const qc = useQueryClient();
  const canAssign = useCan("assignments.write");
  const canRevoke = useCan("licenses.revoke");
  const [editing, setEditing] = useState(false);
  const [revokeAll, setRevokeAll] = useState(false);
  const [revokeOne, setRevokeOne] = useState<Holding | null>(null);
  const [notify, setNotify] = useState(false);
  const [search, setSearch] = useState("");
  const [notice, setNotice] = useState<string | null>(null);

  // After a change made here (assignments saved, a revoke), the reconcile and Apple's answer arrive
  // in the background within seconds: poll quickly for a minute. Otherwise the app's counts (one small
  // read) every 5 s, and the holdings (possibly thousands of rows) only when those counts move.
  const [liveUntil, setLiveUntil] = useState(0);
  const goLive = () => setLiveUntil(Date.now() + 60_000);
  const pendingNow = (): boolean =>
    !!qc
      .getQueryData<Holding[]>(["storeApp", id, "holdings"])
      ?.some((h) => h.state === "pendingAssign" || h.state === "pendingRelease");
  const busy = () => pendingNow() || Date.now() < liveUntil;
  const appQ = useQuery({
    queryKey: ["storeApp", id],
    refetchInterval: () => (busy() ? 2000 : 5000),
    queryFn: () =>
      api<StoreApp>(`${APPS_PATH}/${id}`).catch(async (err) => {
        // Books live under managedEBooks.
        try {
          return await api<StoreApp>(`${BOOKS_PATH}/${id}`);
        } catch {
          throw err;
        }
      }),
  });
  const app = appQ.data;
  // A purchase, refund or release seen in the counts: read the holdings again (who was served).
  const countsKey = app
    ? `${app.totalLicenseCount}/${app.usedLicenseCount}/${app.revokedLicenseCount ?? ""}`
    : "";
  useEffect(() => {
    if (countsKey) void qc.invalidateQueries({ queryKey: ["storeApp", id, "holdings"], exact: true });
  }, [countsKey, id, qc]);
  const isBook = app ? platformOf(app) === "Book" : false;
  const base = isBook ? BOOKS_PATH : APPS_PATH;
  const assignQ = useQuery({
    queryKey: ["storeApp", id, "assignments"],
    enabled: !!app,
    queryFn: () => getAll<Assignment>(`${base}/${id}/assignments`),
  });
  const holdQ = useQuery({
    queryKey: ["storeApp", id, "holdings"],
    enabled: !!app && !isBook,
    queryFn: () => getAll<Holding>(`${APPS_PATH}/${id}/licenseHoldings`),
    refetchInterval: () => (busy() ? 2000 : false),
  });
  const groupsQ = useQuery({
    queryKey: ["groups", "picker"],
    queryFn: () =>
      getAll<{ id: string; displayName: string }>("/v1.0/groups?$select=id,displayName&$top=999", {
        limit: 5000,
      }),
  });
  const groupName = (gid: string) => groupsQ.data?.find((g) => g.id === gid)?.displayName ?? gid;

  const knownNames = useMemo(
    () => new Map((holdQ.data ?? []).map((h) => [h.holderId, h.displayName ?? h.holderId])),
    [holdQ.data],
  );
  const holdings = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const rows = (holdQ.data ?? []).filter((h) => h.state !== "released" || h.reason === "revoked");
    return needle
      ? rows.filter((h) =>
          [h.displayName, h.userPrincipalName, h.serialNumber, h.state, h.reason].some((v) =>
            v?.toLowerCase().includes(needle),
          ),
        )
      : rows;
  }, [holdQ.data, search]);

  if (appQ.isPending) return <Spinner label="Loading app…" />;
  if (!app)
    return (
      <>
        <PageHeader title="App not found" />
        <ErrorBar error={appQ.error} title="The app could not be loaded" onRetry={() => appQ.refetch()} />
        <Link href="/" asChild>
          <FluentLink>Back to apps and books</FluentLink>
        </Link>
      </>
    );

  const c = countsOf(app);
  const holdingColumns: Column<Holding>[] = [
    {
      key: "displayName",
      header: "User or device",
      width: "26%",
      render: (h) => h.displayName ?? h.holderId,
    },
    {
      key: "holderType",
      header: "Type",
      width: "80px",
      render: (h) => (h.holderType === "user" ? "User" : "Device"),
    },
    { key: "state", header: "State", width: "120px", render: (h) => <StateBadge state={h.state} /> },
    {
      key: "reason",
      header: "Why",
      render: (h) => <span className={s.reason}>{reasonText(h.reason) || "—"}</span>,
      sortValue: (h) => h.reason ?? "",
    },
    { key: "sinceDateTime", header: "Since", width: "170px", render: (h) => formatDateTime(h.sinceDateTime) },
    {
      key: "actions",
      header: "Actions",
      width: "110px",
      sortable: false,
      render: (h) =>
        ["assigned", "pendingAssign"].includes(h.state) ? (
          <Button
            size="small"
            icon={<DeleteRegular />}
            disabled={!canRevoke}
            aria-label={`Revoke the license of ${h.displayName ?? h.holderId}`}
            onClick={() => setRevokeOne(h)}
          >
            Revoke
          </Button>
        ) : null,
    },
  ];

  return (
    <>
      <Link href="/" asChild>
        <FluentLink>
          <ArrowLeftRegular aria-hidden /> Apps and books
        </FluentLink>
      </Link>
      <PageHeader
        title={app.displayName ?? app.adamId ?? app.id}
        description={`${app.publisher ?? "Unknown publisher"} · ${platformOf(app)} · ${app.vppTokenDisplayName ?? app.vppTokenOrganizationName ?? app.vppOrganizationName ?? ""}`}
        actions={
          <>
            <Button
              appearance="primary"
              icon={<EditRegular />}
              disabled={!canAssign || isBook}
              onClick={() => setEditing(true)}
            >
              Edit assignments
            </Button>
            <Button
              icon={<DeleteRegular />}
              disabled={!canRevoke || isBook || c.used === 0}
              onClick={() => setRevokeAll(true)}
            >
              Revoke all licenses
            </Button>
          </>
        }
      />
      {notice && (
        <MessageBar intent="success">
          <MessageBarBody>{notice}</MessageBarBody>
        </MessageBar>
      )}
      <div className={s.grid}>
        <Card>
          <Text as="h2" weight="semibold" size={400}>
            Licenses
          </Text>
          <UsageBar
            used={c.used}
            total={c.total}
            pending={c.pending}
            label={`Licenses of ${app.displayName}`}
          />
          <div className={s.counts}>
            <span>Total {c.total}</span>
            <span>Used {c.used}</span>
            <span>Available {c.available}</span>
            <span>Revoked {c.revoked}</span>
            <span>Pending {c.pending}</span>
          </div>
          <Text>Unit price: {money(app.unitPrice)}</Text>
        </Card>
        <Card>
          <Text as="h2" weight="semibold" size={400}>
            Details
          </Text>
          <dl className={s.dl}>
            <dt className={s.dt}>Adam ID</dt>
            <dd className={s.dd}>{app.adamId ?? "—"}</dd>
            <dt className={s.dt}>Bundle ID</dt>
            <dd className={s.dd}>{app.bundleId ?? "—"}</dd>
            <dt className={s.dt}>Version</dt>
            <dd className={s.dd}>
              {app.version ?? app.versionNumber ?? "As in the App Store"}
              {app.updateAvailable ? " · update available" : ""}
            </dd>
            <dt className={s.dt}>Store data</dt>
            <dd className={s.dd}>
              {app.metadataStatus === "ok" || !app.metadataStatus ? "Up to date" : app.metadataStatus}
              {app.lastModifiedDateTime ? ` · updated ${formatDateTime(app.lastModifiedDateTime)}` : ""}
            </dd>
            <dt className={s.dt}>Licensing</dt>
            <dd className={s.dd}>
              {app.licensingType?.supportsDeviceLicensing === false ? "User only" : "User or device"}
            </dd>
            <dt className={s.dt}>App Store</dt>
            <dd className={s.dd}>
              {app.appStoreUrl ? (
                <FluentLink href={app.appStoreUrl} target="_blank" rel="noreferrer">
                  Open in the App Store
                </FluentLink>
              ) : (
                "—"
              )}
            </dd>
          </dl>
        </Card>
        <Card>
          <Text as="h2" weight="semibold" size={400}>
            Assignments
          </Text>
          <ErrorBar
            error={assignQ.error}
            title="Assignments could not be loaded"
            onRetry={() => assignQ.refetch()}
          />
          {(assignQ.data ?? []).length === 0 ? (
            <Text>Not assigned. Use "Edit assignments" to give it to groups, all users or all devices.</Text>
          ) : (
            <ul aria-label="Assignments">
              {(assignQ.data ?? []).map((a) => (
                <li key={a.id ?? JSON.stringify(a.target)}>
                  {targetLabel(a, groupName)}
                  {kindOf(a.target["@odata.type"]) === "exclusionGroupAssignmentTarget"
                    ? ""
                    : ` · ${a.intent} · ${a.settings?.useDeviceLicensing ? "device" : "user"} licensing`}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>

      {!isBook && <PromptMatrix appId={app.id} />}

      <Text as="h2" weight="semibold" size={500} className={s.h2} block>
        Users and devices
      </Text>
      <ErrorBar
        error={holdQ.error}
        title="License states could not be loaded"
        onRetry={() => holdQ.refetch()}
      />
      <div className={s.bar}>
        <Field label="Search users and devices">
          <Input contentBefore={<SearchRegular />} value={search} onChange={(_, d) => setSearch(d.value)} />
        </Field>
        <CsvExportButton
          fileName={`${app.displayName ?? app.id}-licenses.csv`}
          disabled={!holdings.length}
          build={() =>
            downloadRowsAsCsv(
              holdings.map((h) => ({ ...h })),
              [
                { key: "displayName", header: "User or device" },
                { key: "holderType", header: "Type" },
                { key: "userPrincipalName", header: "User principal name" },
                { key: "serialNumber", header: "Serial number" },
                { key: "state", header: "State" },
                { key: "reason", header: "Reason" },
                { key: "sinceDateTime", header: "Since" },
              ],
              "licenses.csv",
            )
          }
        />
      </div>
      <DataTable
        label={`License states of ${app.displayName}`}
        columns={holdingColumns}
        rows={holdings}
        getRowId={(h) => `${h.holderType}:${h.holderId}`}
        height="420px"
        empty={
          <EmptyState title={search ? "Nobody matches" : "Nobody holds or waits for this app"}>
            {search
              ? "Clear the search."
              : "Assign the app to a group, all users or all devices to license it."}
          </EmptyState>
        }
      />

      {editing && (
        <AssignmentEditor
          app={app}
          current={assignQ.data ?? []}
          knownNames={knownNames}
          onClose={() => setEditing(false)}
          onSaved={goLive}
        />
      )}
      <ConfirmDialog
        open={revokeAll}
        title={`Revoke every license of ${app.displayName}?`}
        confirmLabel="Revoke all"
        destructive
        onClose={() => setRevokeAll(false)}
        onConfirm={async () => {
          await api(`${APPS_PATH}/${app.id}/revokeAllLicenses`, {
            method: "POST",
            body: { notifyManagedDevices: notify },
          });
          setNotice(`Revoking all ${c.used} licenses of ${app.displayName} at Apple.`);
          goLive();
          await qc.invalidateQueries({ queryKey: ["storeApp", id] });
        }}
      >
        <p>
          Licenses are released at Apple; the app is not uninstalled. Assignments stay, so holders wait until
          you change them.
        </p>
        <Checkbox
          checked={notify}
          onChange={(_, d) => setNotify(!!d.checked)}
          label="Notify the managed devices"
        />
      </ConfirmDialog>
      <ConfirmDialog
        open={!!revokeOne}
        title={`Revoke the license of ${revokeOne?.displayName ?? revokeOne?.holderId ?? ""}?`}
        confirmLabel="Revoke license"
        destructive
        onClose={() => setRevokeOne(null)}
        onConfirm={async () => {
          if (!revokeOne) return;
          const user = revokeOne.holderType === "user";
          await api(`${APPS_PATH}/${app.id}/${user ? "revokeUserLicense" : "revokeDeviceLicense"}`, {
            method: "POST",
            body: {
              ...(user ? { userId: revokeOne.holderId } : { managedDeviceId: revokeOne.holderId }),
              notifyManagedDevices: notify,
            },
          });
          setNotice(`Revoking the license of ${revokeOne.displayName ?? revokeOne.holderId}.`);
          goLive();
          await qc.invalidateQueries({ queryKey: ["storeApp", id] });
        }}
      >
        <p>The license is released at Apple; the app is not uninstalled.</p>
        <Checkbox
          checked={notify}
          onChange={(_, d) => setNotify(!!d.checked)}
          label="Notify the managed device"
        />
      </ConfirmDialog>
    </>
  );
}

/** EUX-1: what a device's user is asked when the app installs, for user or device licensing. */
function PromptMatrix({ appId }: { appId: string }) {
  const s = useStyles();
  const [device, setDevice] = useState("");
  const [useDevice, setUseDevice] = useState(true);
  const devices = useQuery({
    queryKey: ["devices", "picker"],
    queryFn: () =>
      getAll<Device>("/v1.0/deviceManagement/managedDevices?$select=id,deviceName&$top=200", { limit: 200 }),
  });
  const q = useQuery({
    queryKey: ["promptMatrix", appId, device, useDevice],
    enabled: !!device,
    queryFn: () =>
      api<{
        scenario: number;
        vppInvitation: boolean | null;
        installPrompt: boolean | null;
        appleIdPrompt: boolean | null;
        warning: string | null;
      }>(`${APPS_PATH}/${appId}/promptMatrix(managedDeviceId='${device}',useDeviceLicensing=${useDevice})`),
  });
  const yesNo = (v: boolean | null | undefined) =>
    v === null || v === undefined ? "Not applicable" : v ? "Yes" : "No";
  return (
    <Card>
      <Text as="h2" weight="semibold" size={400}>
        What the user is asked (prompt preview)
      </Text>
      <div className={s.bar}>
        <Field label="Device">
          <Dropdown
            placeholder={devices.data?.length ? "Choose a device" : "No devices yet"}
            value={devices.data?.find((d) => d.id === device)?.deviceName ?? ""}
            selectedOptions={device ? [device] : []}
            onOptionSelect={(_, d) => setDevice(d.optionValue ?? "")}
          >
            {(devices.data ?? []).map((d) => (
              <Option key={d.id} value={d.id}>
                {d.deviceName}
              </Option>
            ))}
          </Dropdown>
        </Field>
        <Checkbox
          checked={useDevice}
          onChange={(_, d) => setUseDevice(!!d.checked)}
          label="Device licensing"
        />
      </div>
      <ErrorBar error={q.error} title="The preview failed" />
      {q.data && (
        <dl className={s.dl} aria-label="Prompt preview">
          <dt className={s.dt}>Apple invitation (VPP)</dt>
          <dd className={s.dd}>{yesNo(q.data.vppInvitation)}</dd>
          <dt className={s.dt}>Install prompt</dt>
          <dd className={s.dd}>{yesNo(q.data.installPrompt)}</dd>
          <dt className={s.dt}>Apple ID prompt</dt>
          <dd className={s.dd}>{yesNo(q.data.appleIdPrompt)}</dd>
          {q.data.warning && (
            <>
              <dt className={s.dt}>Warning</dt>
              <dd className={s.dd}>{q.data.warning}</dd>
            </>
          )}
        </dl>
      )}
    </Card>
  );
}
