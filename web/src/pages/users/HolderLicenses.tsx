// Licenses a user or device holds now: the VPP apps with licenses in use, each app's
// assignedLicenses filtered to this holder, with revoke (revokeUserLicense / revokeDeviceLicense).
import { Button, Checkbox } from "@fluentui/react-components";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, getAll } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";

interface App {
  id: string;
  displayName: string;
  usedLicenseCount?: number;
}
interface Held {
  appId: string;
  appName: string;
  kind: "user" | "device";
  userPrincipalName?: string;
  deviceName?: string;
}
interface AssignedLicense {
  "@odata.type": string;
  id: string;
  userId: string | null;
  userPrincipalName: string | null;
  managedDeviceId?: string;
  deviceName?: string;
}

export function HolderLicenses(props: { holder: "user" | "device"; id: string; name: string }) {
  const canRevoke = useCan("licenses.revoke");
  const qc = useQueryClient();
  const [revoking, setRevoking] = useState<Held | null>(null);
  const [notify, setNotify] = useState(false);
  const q = useQuery({
    queryKey: ["holderLicenses", props.holder, props.id],
    queryFn: async (): Promise<Held[]> => {
      // Apps with licenses in use only; each app's holdings are one small read.
      const apps = await getAll<App>(
        "/beta/deviceAppManagement/mobileApps/microsoft.graph.iosVppApp?$filter=usedLicenseCount gt 0&$top=100",
        { limit: 500 },
      );
      const out: Held[] = [];
      await Promise.all(
        apps.map(async (a) => {
          const r = await api<{ value: AssignedLicense[] }>(
            `/beta/deviceAppManagement/mobileApps/${a.id}/microsoft.graph.iosVppApp/assignedLicenses`,
          );
          for (const l of r.value) {
            const device = l["@odata.type"].endsWith("DeviceLicense");
            const mine =
              props.holder === "device"
                ? device && l.managedDeviceId === props.id
                : !device && l.userId === props.id;
            if (mine)
              out.push({
                appId: a.id,
                appName: a.displayName,
                kind: device ? "device" : "user",
                userPrincipalName: l.userPrincipalName ?? undefined,
                deviceName: l.deviceName,
              });
          }
        }),
      );
      return out.sort((x, y) => x.appName.localeCompare(y.appName));
    },
  });
  if (q.error) return <ErrorBar error={q.error} onRetry={() => q.refetch()} />;
  return (
    <>
      <DataTable<Held>
        label={`Licenses held by ${props.name}`}
        height="240px"
        rows={q.data ?? []}
        getRowId={(r) => r.appId}
        columns={[
          { key: "appName", header: "App" },
          {
            key: "kind",
            header: "License type",
            render: (r) => (r.kind === "user" ? "User license" : "Device license"),
          },
          {
            key: "actions",
            header: "Actions",
            sortable: false,
            width: "140px",
            render: (r) =>
              canRevoke ? (
                <Button
                  size="small"
                  onClick={() => setRevoking(r)}
                  aria-label={`Revoke ${r.appName} license`}
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
              : `${props.name} holds no VPP license. Assign an app to a group ${props.holder === "user" ? "this user" : "this device"} belongs to, from Apps and books.`}
          </EmptyState>
        }
      />
      <ConfirmDialog
        open={!!revoking}
        title={`Revoke the ${revoking?.appName ?? ""} license?`}
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
