// VPP tokens: state, expiry countdown, last sync (live while a sync runs), upload, renew, sync now,
// and delete with the TOK-7 warning and the "revoke all licenses first" path.
import {
  Button,
  Checkbox,
  Input,
  Menu,
  MenuItem,
  MenuList,
  MenuPopover,
  MenuTrigger,
  MessageBar,
  MessageBarBody,
  makeStyles,
  ProgressBar,
  Spinner,
  Text,
  Tooltip,
  tokens,
} from "@fluentui/react-components";
import {
  ArrowSyncRegular,
  ArrowUploadRegular,
  DeleteRegular,
  KeyRegular,
  MoreHorizontalRegular,
  SearchRegular,
} from "@fluentui/react-icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { StateBadge } from "../../components/StateBadge.tsx";
import { expiryCountdown, formatDateTime, TOKENS_PATH, tokenName, type VppToken } from "./tokenModel.ts";
import { UploadTokenDialog } from "./UploadTokenDialog.tsx";

const useStyles = makeStyles({
  toolbar: { display: "flex", gap: "8px", marginBottom: "12px", alignItems: "end" },
  urgent: { color: tokens.colorPaletteRedForeground1, fontWeight: tokens.fontWeightSemibold },
  sync: { display: "flex", flexDirection: "column", gap: "2px", minWidth: 0 },
  name: { display: "flex", flexDirection: "column", lineHeight: "16px" },
  sub: { color: tokens.colorNeutralForeground3, fontSize: tokens.fontSizeBase200 },
  actions: { display: "flex", gap: "4px" },
});

export default function Tokens() {
  const s = useStyles();
  const qc = useQueryClient();
  const canWrite = useCan("tokens.write");
  const canRevoke = useCan("licenses.revoke");
  const [search, setSearch] = useState("");
  const [uploadOpen, setUploadOpen] = useState(false);
  const [renewing, setRenewing] = useState<VppToken | null>(null);
  const [deleting, setDeleting] = useState<VppToken | null>(null);
  const [revokeFirst, setRevokeFirst] = useState<VppToken | null>(null);
  const [notify, setNotify] = useState(false);
  const [revokeUntracked, setRevokeUntracked] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [syncError, setSyncError] = useState<unknown>(null);

  const q = useQuery({
    queryKey: ["vppTokens"],
    queryFn: async () => {
      const before = qc.getQueryData<VppToken[]>(["vppTokens"]);
      const list = await getAll<VppToken>(TOKENS_PATH);
      // A sync that just finished changed apps and counts: refresh them.
      if (
        before?.some(
          (b) =>
            b.lastSyncStatus === "inProgress" &&
            list.find((t) => t.id === b.id)?.lastSyncStatus !== "inProgress",
        )
      )
        for (const key of ["storeApps", "storeApp"]) void qc.invalidateQueries({ queryKey: [key] });
      return list;
    },
    // While a sync runs (or a new token waits for its first one), poll so progress and outcome show live.
    refetchInterval: (query) =>
      query.state.data?.some((t) => t.lastSyncStatus === "inProgress" || t.lastSyncStatus === "none")
        ? 1000
        : false,
  });
  const rows = useMemo(() => {
    const all = q.data ?? [];
    const needle = search.trim().toLowerCase();
    if (!needle) return all;
    return all.filter((t) =>
      [tokenName(t), t.organizationName, t.appleId, t.countryOrRegion, t.state]
        .filter(Boolean)
        .some((v) => String(v).toLowerCase().includes(needle)),
    );
  }, [q.data, search]);

  const syncNow = async (t: VppToken) => {
    setSyncError(null);
    try {
      const updated = await api<VppToken>(`${TOKENS_PATH}/${t.id}/syncLicenses`, { method: "POST" });
      qc.setQueryData<VppToken[]>(["vppTokens"], (old) =>
        old?.map((x) => (x.id === t.id ? { ...x, ...updated, lastSyncStatus: "inProgress" } : x)),
      );
      await qc.invalidateQueries({ queryKey: ["vppTokens"] });
    } catch (err) {
      setSyncError(err);
    }
  };

  const columns: Column<VppToken>[] = [
    {
      key: "name",
      header: "Token",
      sortValue: tokenName,
      width: "22%",
      render: (t) => (
        <span className={s.name}>
          <span>{tokenName(t)}</span>
          <span className={s.sub}>{t.appleId ?? t.organizationName ?? ""}</span>
        </span>
      ),
    },
    { key: "state", header: "State", width: "150px", render: (t) => <StateBadge state={t.state} /> },
    {
      key: "expirationDateTime",
      header: "Expires",
      width: "150px",
      render: (t) => {
        const c = expiryCountdown(t.expirationDateTime);
        return (
          <span title={formatDateTime(t.expirationDateTime)} className={c.urgent ? s.urgent : undefined}>
            {c.text}
          </span>
        );
      },
    },
    {
      key: "lastSyncDateTime",
      header: "Last sync",
      render: (t) =>
        t.lastSyncStatus === "inProgress" ? (
          <span className={s.sync}>
            <Text size={200}>Syncing apps and licenses…</Text>
            <ProgressBar aria-label={`Sync of ${tokenName(t)} in progress`} />
          </span>
        ) : (
          <span className={s.sync}>
            <StateBadge state={t.lastSyncStatus} />
            <Text size={200}>{formatDateTime(t.lastSyncDateTime)}</Text>
          </span>
        ),
    },
    { key: "countryOrRegion", header: "Storefront", width: "90px", render: (t) => t.countryOrRegion ?? "—" },
    {
      key: "actions",
      header: "Actions",
      sortable: false,
      width: "170px",
      render: (t) => (
        <span className={s.actions}>
          <Button
            size="small"
            icon={<ArrowSyncRegular />}
            disabled={!canWrite || t.lastSyncStatus === "inProgress"}
            onClick={(e) => {
              e.stopPropagation();
              void syncNow(t);
            }}
          >
            Sync now
          </Button>
          <Menu>
            <MenuTrigger disableButtonEnhancement>
              <Tooltip content={`More actions for ${tokenName(t)}`} relationship="label">
                <Button size="small" icon={<MoreHorizontalRegular />} disabled={!canWrite} />
              </Tooltip>
            </MenuTrigger>
            <MenuPopover>
              <MenuList>
                <MenuItem icon={<ArrowUploadRegular />} onClick={() => setRenewing(t)}>
                  Renew or edit
                </MenuItem>
                <MenuItem icon={<KeyRegular />} disabled={!canRevoke} onClick={() => setRevokeFirst(t)}>
                  Revoke all licenses
                </MenuItem>
                <MenuItem icon={<DeleteRegular />} onClick={() => setDeleting(t)}>
                  Delete
                </MenuItem>
              </MenuList>
            </MenuPopover>
          </Menu>
        </span>
      ),
    },
  ];

  const csvColumns = [
    { key: "name", header: "Token" },
    { key: "organizationName", header: "Organization" },
    { key: "appleId", header: "Apple ID" },
    { key: "state", header: "State" },
    { key: "expirationDateTime", header: "Expires" },
    { key: "lastSyncStatus", header: "Last sync status" },
    { key: "lastSyncDateTime", header: "Last sync" },
    { key: "countryOrRegion", header: "Storefront" },
    { key: "vppTokenAccountType", header: "Account type" },
  ];

  return (
    <>
      <PageHeader
        title="VPP tokens"
        description="Apple Apps and Books location tokens: state, expiry, sync, upload, renew and delete."
        actions={
          <>
            <CsvExportButton
              fileName="vpp-tokens.csv"
              disabled={!rows.length}
              build={() =>
                downloadRowsAsCsv(
                  rows.map((t) => ({ ...t, name: tokenName(t) })),
                  csvColumns,
                  "vpp-tokens.csv",
                )
              }
            />
            <Button
              appearance="primary"
              icon={<ArrowUploadRegular />}
              disabled={!canWrite}
              onClick={() => setUploadOpen(true)}
            >
              Upload token
            </Button>
          </>
        }
      />
      {notice && (
        <MessageBar intent="success" layout="multiline">
          <MessageBarBody>{notice}</MessageBarBody>
        </MessageBar>
      )}
      <ErrorBar error={syncError} title="The sync did not start" />
      <ErrorBar error={q.error} title="Tokens could not be loaded" onRetry={() => q.refetch()} />
      <div className={s.toolbar}>
        <Input
          aria-label="Search tokens"
          placeholder="Search by name, Apple ID, state…"
          contentBefore={<SearchRegular />}
          value={search}
          onChange={(_, d) => setSearch(d.value)}
        />
      </div>
      {q.isPending ? (
        <Spinner label="Loading tokens…" />
      ) : (
        <DataTable
          label="VPP tokens"
          columns={columns}
          rows={rows}
          getRowId={(t) => t.id}
          rowHeight={52}
          empty={
            search ? (
              <EmptyState title="No token matches">Clear the search to see every token.</EmptyState>
            ) : (
              <EmptyState
                icon={<KeyRegular />}
                title="No VPP token yet"
                action={
                  canWrite ? (
                    <Button appearance="primary" onClick={() => setUploadOpen(true)}>
                      Upload a VPP token
                    </Button>
                  ) : undefined
                }
              >
                Download your location's token (.vpptoken) from Apple Business Manager and upload it here.
                Allot then syncs its apps and licenses.
              </EmptyState>
            )
          }
        />
      )}

      <UploadTokenDialog open={uploadOpen} onClose={() => setUploadOpen(false)} />
      {renewing && <UploadTokenDialog open renew={renewing} onClose={() => setRenewing(null)} />}

      <ConfirmDialog
        open={!!revokeFirst}
        title={`Revoke all licenses of ${revokeFirst ? tokenName(revokeFirst) : ""}?`}
        confirmLabel="Revoke all licenses"
        destructive
        onClose={() => setRevokeFirst(null)}
        onConfirm={async () => {
          if (!revokeFirst) return;
          await api(`${TOKENS_PATH}/${revokeFirst.id}/revokeLicenses`, {
            method: "POST",
            body: { notifyManagedDevices: notify, revokeUntrackedLicenses: revokeUntracked },
          });
          setNotice(
            `Revoking every license of ${tokenName(revokeFirst)} at Apple. Apps stay installed until users or devices remove them; you can delete the token when the revocations are done.`,
          );
          await qc.invalidateQueries();
        }}
      >
        <p>
          Every license of every app of this token is released at Apple (apps are not uninstalled). Do this
          before deleting the token if the licenses must come back.
        </p>
        <Checkbox
          checked={notify}
          onChange={(_, d) => setNotify(!!d.checked)}
          label="Notify the users' devices"
        />
        <Checkbox
          checked={revokeUntracked}
          onChange={(_, d) => setRevokeUntracked(!!d.checked)}
          label="Also revoke licenses assigned outside Allot"
        />
      </ConfirmDialog>

      <ConfirmDialog
        open={!!deleting}
        title={`Delete ${deleting ? tokenName(deleting) : ""}?`}
        confirmLabel="Delete token"
        destructive
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await api(`${TOKENS_PATH}/${deleting.id}`, { method: "DELETE" });
          setNotice(`${tokenName(deleting)} was deleted. Licenses assigned at Apple stay assigned.`);
          await qc.invalidateQueries();
        }}
      >
        <MessageBar intent="warning" layout="multiline">
          <MessageBarBody>
            The token is deleted with its apps and their assignments in Allot. Licenses assigned at Apple stay
            assigned and apps stay installed on devices; Allot can no longer revoke them.
          </MessageBarBody>
        </MessageBar>
        <p>If the licenses must be released, revoke them first.</p>
        {canRevoke && deleting && (
          <Button
            onClick={() => {
              const t = deleting;
              setDeleting(null);
              setRevokeFirst(t);
            }}
          >
            Revoke all licenses first
          </Button>
        )}
      </ConfirmDialog>
    </>
  );
}
