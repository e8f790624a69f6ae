// Licenses a user or device holds: one read of the ledger (GET /beta/users/{id}/licenseHoldings or
// /beta/deviceManagement/managedDevices/{id}/licenseHoldings) — licensed, pending, waiting and failed
// holdings with the reason; released ones on request — with revoke (revokeUserLicense /
// revokeDeviceLicense) for the licenses that consume one.
import { Button, Checkbox } from "@fluentui/react-components";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "wouter";
import { api } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { StateBadge } from "../../components/StateBadge.tsx";
import { reasonText } from "../apps/appModel.ts";
import { when } from "./serverList.tsx";

export interface HolderHolding {
  appId: string;
  appDisplayName: string | null;
  /** iosVppApp, macOsVppApp, iosVppEBook… */
  appType: string;
  holderType: "user" | "device";
  holderId: string;
  licenseType: "user" | "device";
  state: string;
  reason: string | null;
  sinceDateTime: string;
  waitingSinceDateTime: string | null;
}

/** Holdings that consume a license at Apple (or are about to): these can be revoked. */
const consuming = (h: HolderHolding) => ["assigned", "pendingAssign"].includes(h.state);
const isBook = (h: HolderHolding) => h.appType.toLowerCase().includes("ebook");
const ALL_STATES =
  "state in ('assigned', 'pendingAssign', 'pendingRelease', 'waiting', 'failed', 'released')";

export function holdingsPath(holder: "user" | "device", id: string, withReleased = false): string {
  const base =
    holder === "user"
      ? `/beta/users/${encodeURIComponent(id)}/licenseHoldings`
      : `/beta/deviceManagement/managedDevices/${encodeURIComponent(id)}/licenseHoldings`;
  return withReleased ? `${base}?$filter=${encodeURIComponent(ALL_STATES)}` : base;
}

export function HolderLicenses(props: { holder: "user" | "device"; id: string; name: string }) {
  const canRevoke = useCan("licenses.revoke");
  const qc = useQueryClient();
  const [revoking, setRevoking] = useState<HolderHolding | null>(null);
  const [notify, setNotify] = useState(false);
  const [withReleased, setWithReleased] = useState(false);
  const q = useQuery({
    queryKey: ["holderLicenses", props.holder, props.id, withReleased],
    queryFn: () => api<{ value: HolderHolding[] }>(holdingsPath(props.holder, props.id, withReleased)),
    select: (r) => r.value,
  });
  const name = (h: HolderHolding) => h.appDisplayName ?? h.appId;
  if (q.error) return <ErrorBar error={q.error} onRetry={() => q.refetch()} />;
  return (
    <>
      <Checkbox
        label="Show released licenses"
        checked={withReleased}
        onChange={(_, d) => setWithReleased(!!d.checked)}
      />
      <DataTable<HolderHolding>
        label={`Licenses held by ${props.name}`}
        height="240px"
        rows={q.data ?? []}
        getRowId={(r) => r.appId}
        columns={[
          {
            key: "appDisplayName",
            header: "App",
            sortValue: (r) => name(r).toLowerCase(),
            render: (r) => <Link href={`~/apps/${r.appId}`}>{name(r)}</Link>,
          },
          {
            key: "licenseType",
            header: "License type",
            width: "120px",
            render: (r) => (r.licenseType === "user" ? "User license" : "Device license"),
          },
          { key: "state", header: "State", width: "110px", render: (r) => <StateBadge state={r.state} /> },
          {
            key: "reason",
            header: "Why",
            sortValue: (r) => r.reason ?? "",
            render: (r) => reasonText(r.reason) || "—",
          },
          {
            key: "sinceDateTime",
            header: "Since",
            width: "170px",
            render: (r) => when(r.sinceDateTime),
          },
          {
            key: "actions",
            header: "Actions",
            sortable: false,
            width: "110px",
            render: (r) =>
              consuming(r) && !isBook(r) ? (
                <Button
                  size="small"
                  disabled={!canRevoke}
                  onClick={() => setRevoking(r)}
                  aria-label={`Revoke ${name(r)} license`}
                >
                  Revoke
                </Button>
              ) : (
                "—"
              ),
          },
        ]}
        empty={
          <EmptyState title={q.isLoading ? "Loading licenses…" : "No licenses held"}>
            {q.isLoading
              ? null
              : `${props.name} holds no VPP license and waits for none. Assign an app to a group ${props.holder === "user" ? "this user" : "this device"} belongs to, from Apps and books.`}
          </EmptyState>
        }
      />
      <ConfirmDialog
        open={!!revoking}
        title={`Revoke the ${revoking ? name(revoking) : ""} license?`}
        confirmLabel="Revoke license"
        destructive
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          const body =
            props.holder === "device"
              ? { managedDeviceId: props.id, notifyManagedDevices: notify }
              : { userId: props.id, notifyManagedDevices: notify };
          await api(
            `/beta/deviceAppManagement/mobileApps/${revoking.appId}/${props.holder === "device" ? "revokeDeviceLicense" : "revokeUserLicense"}`,
            { method: "POST", body },
          );
          await qc.invalidateQueries({ queryKey: ["holderLicenses"] });
        }}
      >
        The license goes back to the pool at Apple; the app is not uninstalled. If an assignment still targets{" "}
        {props.name}, Allot may license it again on the next reconcile.
        <Checkbox
          label="Notify the managed devices"
          checked={notify}
          onChange={(_, d) => setNotify(!!d.checked)}
        />
      </ConfirmDialog>
    </>
  );
}
