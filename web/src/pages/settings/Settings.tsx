// Settings: app registrations (create, rotate: the secret is shown once), administrators and roles,
// notifications (SMTP, administrator addresses, webhooks with a test delivery), the MDM bridge webhook,
// SCIM provisioning tokens and the sync schedule. What the signed-in role cannot do is hidden.
import { Button, Checkbox, Field, Input, Tab, TabList, Textarea } from "@fluentui/react-components";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { useCan } from "../../api/session.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { DataTable } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";

import { Facts, Section, when } from "../users/serverList.tsx";
import { FormDialog, Note, ROLES, roleName, SecretOnce } from "./parts.tsx";

interface AppRegistration {
  id: string;
  appId: string;
  displayName: string;
  roles: string[];
  secretHint: string;
  createdDateTime: string;
  secretCreatedDateTime: string;
  clientSecret?: string;
}
interface Administrator {
  id: string;
  userPrincipalName: string;
  displayName: string;
  roles: string[];
  accountEnabled: boolean;
  lastSignInDateTime: string | null;
}

function RolePicker(props: { value: string[]; onChange: (v: string[]) => void }) {
  return (
    <fieldset style={{ border: "none", padding: 0, margin: 0 }}>
      <legend style={{ fontWeight: 600, marginBottom: 4 }}>Roles</legend>
      {ROLES.map(([k, label]) => (
        <Checkbox
          key={k}
          label={label}
          checked={props.value.includes(k)}
          onChange={(_, d) =>
            props.onChange(d.checked ? [...props.value, k] : props.value.filter((r) => r !== k))
          }
        />
      ))}
    </fieldset>
  );
}

function AppRegistrations() {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ["appRegistrations"],
    queryFn: () => getAll<AppRegistration>("/beta/admin/appRegistrations"),
  });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [roles, setRoles] = useState<string[]>(["reader"]);
  const [shown, setShown] = useState<AppRegistration | null>(null);
  const [rotate, setRotate] = useState<AppRegistration | null>(null);
  const [del, setDel] = useState<AppRegistration | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ["appRegistrations"] });
  return (
    <Section
      title="App registrations"
      actions={
        <Button appearance="primary" onClick={() => setCreating(true)}>
          New app registration
        </Button>
      }
    >
      <Note>
        Scripts and integrations sign in with the client-credentials flow (POST /{"{tenant}"}
        /oauth2/v2.0/token) using an app registration's client ID and secret.
      </Note>
      {shown?.clientSecret ? (
        <SecretOnce
          title={`Client secret of ${shown.displayName}`}
          label="Client secret"
          secret={shown.clientSecret}
          extra={
            <div>
              Client ID: <code>{shown.appId}</code>
            </div>
          }
          onDone={() => setShown(null)}
        />
      ) : null}
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      <DataTable<AppRegistration>
        label="App registrations"
        height="300px"
        rows={q.data ?? []}
        getRowId={(a) => a.id}
        columns={[
          { key: "displayName", header: "Name" },
          { key: "appId", header: "Client ID" },
          { key: "roles", header: "Roles", sortable: false, render: (a) => a.roles.map(roleName).join(", ") },
          {
            key: "secretHint",
            header: "Secret",
            width: "180px",
            render: (a) => `${a.secretHint}… (${new Date(a.secretCreatedDateTime).toLocaleDateString()})`,
          },
          {
            key: "actions",
            header: "Actions",
            sortable: false,
            width: "190px",
            render: (a) => (
              <div style={{ display: "flex", gap: 4 }}>
                <Button
                  size="small"
                  onClick={() => setRotate(a)}
                  aria-label={`Rotate secret of ${a.displayName}`}
                >
                  Rotate secret
                </Button>
                <Button size="small" onClick={() => setDel(a)} aria-label={`Delete ${a.displayName}`}>
                  Delete
                </Button>
              </div>
            ),
          },
        ]}
        empty={
          <EmptyState title={q.isLoading ? "Loading…" : "No app registrations"}>
            {q.isLoading
              ? null
              : "Create one for each script or integration that calls the API; give it the least role it needs."}
          </EmptyState>
        }
      />
      <FormDialog
        open={creating}
        title="New app registration"
        submitLabel="Create"
        disabled={!name.trim() || roles.length === 0}
        onClose={() => setCreating(false)}
        onSubmit={async () => {
          const r = await api<AppRegistration>("/beta/admin/appRegistrations", {
            method: "POST",
            body: { displayName: name.trim(), roles },
          });
          setShown(r);
          setName("");
          await refresh();
        }}
      >
        <Field label="Name" required>
          <Input value={name} onChange={(_, d) => setName(d.value)} />
        </Field>
        <RolePicker value={roles} onChange={setRoles} />
      </FormDialog>
      <ConfirmDialog
        open={!!rotate}
        title={`Rotate the secret of ${rotate?.displayName ?? ""}?`}
        confirmLabel="Rotate secret"
        onClose={() => setRotate(null)}
        onConfirm={async () => {
          if (!rotate) return;
          const r = await api<AppRegistration>(`/beta/admin/appRegistrations/${rotate.id}/rotateSecret`, {
            method: "POST",
          });
          setShown({ ...rotate, ...r });
          await refresh();
        }}
      >
        The current secret stops working now; scripts using it must be given the new one.
      </ConfirmDialog>
      <ConfirmDialog
        open={!!del}
        title={`Delete ${del?.displayName ?? ""}?`}
        confirmLabel="Delete"
        destructive
        onClose={() => setDel(null)}
        onConfirm={async () => {
          if (!del) return;
          await api(`/beta/admin/appRegistrations/${del.id}`, { method: "DELETE" });
          await refresh();
        }}
      >
        Scripts using this app registration can no longer get tokens.
      </ConfirmDialog>
    </Section>
  );
}

function Administrators() {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ["administrators"],
    queryFn: () => getAll<Administrator>("/beta/admin/administrators"),
  });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Administrator | null>(null);
  const [upn, setUpn] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState<string[]>(["reader"]);
  const refresh = () => qc.invalidateQueries({ queryKey: ["administrators"] });
  return (
    <Section
      title="Administrators and roles"
      actions={
        <>
          <CsvExportButton
            fileName="administrators.csv"
            build={() =>
              downloadRowsAsCsv(
                (q.data ?? []).map((a) => ({ ...a, roles: a.roles.join(" ") })),
                ["userPrincipalName", "displayName", "roles", "accountEnabled", "lastSignInDateTime"].map(
                  (k) => ({ key: k, header: k }),
                ),
                "administrators.csv",
              )
            }
          />
          <Button
            appearance="primary"
            onClick={() => {
              setRoles(["reader"]);
              setCreating(true);
            }}
          >
            Add administrator
          </Button>
        </>
      }
    >
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      <DataTable<Administrator>
        label="Administrators"
        height="300px"
        rows={q.data ?? []}
        getRowId={(a) => a.id}
        columns={[
          { key: "userPrincipalName", header: "Sign-in name" },
          { key: "displayName", header: "Name" },
          { key: "roles", header: "Roles", sortable: false, render: (a) => a.roles.map(roleName).join(", ") },
          {
            key: "accountEnabled",
            header: "State",
            width: "100px",
            render: (a) => (a.accountEnabled ? "Enabled" : "Disabled"),
          },
          {
            key: "lastSignInDateTime",
            header: "Last sign-in",
            width: "190px",
            render: (a) => when(a.lastSignInDateTime),
          },
          {
            key: "actions",
            header: "Actions",
            sortable: false,
            width: "120px",
            render: (a) => (
              <Button
                size="small"
                aria-label={`Change roles of ${a.userPrincipalName}`}
                onClick={() => {
                  setRoles(a.roles);
                  setEditing(a);
                }}
              >
                Change roles
              </Button>
            ),
          },
        ]}
        empty={<EmptyState title={q.isLoading ? "Loading…" : "No administrators"} />}
      />
      <FormDialog
        open={creating}
        title="Add administrator"
        submitLabel="Add"
        disabled={!upn.trim() || password.length < 12 || roles.length === 0}
        onClose={() => setCreating(false)}
        onSubmit={async () => {
          await api("/beta/admin/administrators", {
            method: "POST",
            body: {
              userPrincipalName: upn.trim(),
              displayName: displayName.trim() || undefined,
              password,
              roles,
            },
          });
          setUpn("");
          setPassword("");
          setDisplayName("");
          await refresh();
        }}
      >
        <Field label="E-mail (sign-in name)" required>
          <Input type="email" value={upn} onChange={(_, d) => setUpn(d.value)} />
        </Field>
        <Field label="Display name">
          <Input value={displayName} onChange={(_, d) => setDisplayName(d.value)} />
        </Field>
        <Field label="Initial password (at least 12 characters)" required>
          <Input type="password" value={password} onChange={(_, d) => setPassword(d.value)} />
        </Field>
        <RolePicker value={roles} onChange={setRoles} />
      </FormDialog>
      <FormDialog
        open={!!editing}
        title={`Roles of ${editing?.userPrincipalName ?? ""}`}
        submitLabel="Save roles"
        disabled={roles.length === 0}
        onClose={() => setEditing(null)}
        onSubmit={async () => {
          if (!editing) return;
          await api(`/beta/admin/administrators/${editing.id}`, { method: "PATCH", body: { roles } });
          await refresh();
        }}
      >
        <RolePicker value={roles} onChange={setRoles} />
      </FormDialog>
    </Section>
  );
}

interface NotificationSettings {
  smtpConfigured: boolean;
  smtpServer: string | null;
  mailFrom: string | null;
  adminEmails: string[];
  mdmWebhookUrl: string | null;
  mdmWebhookSecretConfigured: boolean;
}
interface Webhook {
  id: string;
  url: string;
  description?: string | null;
  eventTypes?: string[];
  createdDateTime?: string;
  secret?: string;
}
interface Delivery {
  id: string;
  eventType: string;
  status: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdDateTime: string;
}

function useSettings() {
  return useQuery({
    queryKey: ["notificationSettings"],
    queryFn: () => api<NotificationSettings>("/beta/admin/notificationSettings"),
  });
}

function Email() {
  const qc = useQueryClient();
  const q = useSettings();
  const [smtpUrl, setSmtpUrl] = useState("");
  const [mailFrom, setMailFrom] = useState<string | null>(null);
  const [emails, setEmails] = useState<string | null>(null);
  const m = useMutation({
    mutationFn: () =>
      api("/beta/admin/notificationSettings", {
        method: "PATCH",
        body: {
          ...(smtpUrl.trim() ? { smtpUrl: smtpUrl.trim() } : {}),
          ...(mailFrom !== null ? { mailFrom: mailFrom.trim() || null } : {}),
          ...(emails !== null ? { adminEmails: emails.split(/[\s,;]+/).filter(Boolean) } : {}),
        },
      }),
    onSuccess: () => {
      setSmtpUrl("");
      return qc.invalidateQueries({ queryKey: ["notificationSettings"] });
    },
  });
  const s = q.data;
  return (
    <Section title="E-mail (SMTP)">
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      <Facts
        items={[
          [
            "SMTP server",
            s ? (s.smtpConfigured ? (s.smtpServer ?? "Configured by the server") : "Not configured") : "…",
          ],
        ]}
      />
      <form
        style={{ display: "grid", gap: 12, maxWidth: 560 }}
        onSubmit={(e) => {
          e.preventDefault();
          m.mutate();
        }}
      >
        <Field
          label="SMTP URL"
          hint="smtp://user:password@host:587 — stored encrypted; leave empty to keep the current one."
        >
          <Input value={smtpUrl} onChange={(_, d) => setSmtpUrl(d.value)} autoComplete="off" />
        </Field>
        <Field label="Sender address">
          <Input value={mailFrom ?? s?.mailFrom ?? ""} onChange={(_, d) => setMailFrom(d.value)} />
        </Field>
        <Field
          label="Administrator addresses"
          hint="Alerts (token expiring, licenses running out, …) go to these addresses; one per line."
        >
          <Textarea
            value={emails ?? (s?.adminEmails ?? []).join("\n")}
            onChange={(_, d) => setEmails(d.value)}
          />
        </Field>
        <div>
          <Button type="submit" appearance="primary" disabled={m.isPending}>
            {m.isPending ? "Saving…" : "Save e-mail settings"}
          </Button>
        </div>
        {m.error ? <ErrorBar error={m.error} /> : null}
        {m.isSuccess ? <p role="status">Saved.</p> : null}
      </form>
    </Section>
  );
}

function Webhooks() {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ["webhooks"], queryFn: () => getAll<Webhook>("/beta/admin/webhooks") });
  const [creating, setCreating] = useState(false);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [shown, setShown] = useState<Webhook | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [del, setDel] = useState<Webhook | null>(null);
  const deliveries = useQuery({
    queryKey: ["webhooks", selected, "deliveries"],
    queryFn: () => api<{ value: Delivery[] }>(`/beta/admin/webhooks/${selected}/deliveries?$top=50`),
    enabled: !!selected,
    refetchInterval: 3000,
  });
  const test = useMutation({
    mutationFn: (id: string) => api(`/beta/admin/webhooks/${id}/test`, { method: "POST" }),
    onSuccess: (_, id) => {
      setSelected(id);
      return qc.invalidateQueries({ queryKey: ["webhooks", id, "deliveries"] });
    },
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ["webhooks"] });
  return (
    <Section
      title="Webhooks"
      actions={
        <Button appearance="primary" onClick={() => setCreating(true)}>
          New webhook
        </Button>
      }
    >
      {shown?.secret ? (
        <SecretOnce
          title={`Signing secret of ${shown.url}`}
          label="HMAC-SHA256 signing secret"
          secret={shown.secret}
          onDone={() => setShown(null)}
        />
      ) : null}
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      {test.error ? <ErrorBar error={test.error} /> : null}
      <DataTable<Webhook>
        label="Webhooks"
        height="220px"
        rows={q.data ?? []}
        getRowId={(w) => w.id}
        columns={[
          { key: "url", header: "URL" },
          { key: "description", header: "Description" },
          {
            key: "eventTypes",
            header: "Events",
            sortable: false,
            render: (w) => (w.eventTypes?.length ? w.eventTypes.join(", ") : "All"),
          },
          {
            key: "actions",
            header: "Actions",
            sortable: false,
            width: "260px",
            render: (w) => (
              <div style={{ display: "flex", gap: 4 }}>
                <Button
                  size="small"
                  onClick={() => test.mutate(w.id)}
                  aria-label={`Send a test delivery to ${w.url}`}
                >
                  Send test
                </Button>
                <Button size="small" onClick={() => setSelected(w.id)} aria-label={`Deliveries of ${w.url}`}>
                  Deliveries
                </Button>
                <Button size="small" onClick={() => setDel(w)} aria-label={`Delete webhook ${w.url}`}>
                  Delete
                </Button>
              </div>
            ),
          },
        ]}
        empty={
          <EmptyState title={q.isLoading ? "Loading…" : "No webhooks"}>
            {q.isLoading
              ? null
              : "Add a webhook to receive license and token events (signed with HMAC-SHA256) in your own systems."}
          </EmptyState>
        }
      />
      {selected ? (
        <div style={{ marginTop: 12 }}>
          {deliveries.error ? <ErrorBar error={deliveries.error} /> : null}
          <DataTable<Delivery>
            label="Deliveries"
            height="200px"
            rows={deliveries.data?.value ?? []}
            getRowId={(d) => d.id}
            columns={[
              { key: "createdDateTime", header: "Queued", render: (d) => when(d.createdDateTime) },
              { key: "eventType", header: "Event" },
              { key: "status", header: "Status" },
              { key: "attemptCount", header: "Attempts", align: "end", width: "90px" },
              { key: "lastStatusCode", header: "HTTP", align: "end", width: "80px" },
              { key: "lastError", header: "Last error" },
            ]}
            empty={
              <EmptyState title="No deliveries yet">Send a test delivery to check the endpoint.</EmptyState>
            }
          />
        </div>
      ) : null}
      <FormDialog
        open={creating}
        title="New webhook"
        submitLabel="Create"
        disabled={!url.trim()}
        onClose={() => setCreating(false)}
        onSubmit={async () => {
          const r = await api<Webhook>("/beta/admin/webhooks", {
            method: "POST",
            body: { url: url.trim(), description: description.trim() || null },
          });
          setShown(r);
          setUrl("");
          setDescription("");
          await refresh();
        }}
      >
        <Field label="URL (https)" required>
          <Input type="url" value={url} onChange={(_, d) => setUrl(d.value)} />
        </Field>
        <Field label="Description">
          <Input value={description} onChange={(_, d) => setDescription(d.value)} />
        </Field>
      </FormDialog>
      <ConfirmDialog
        open={!!del}
        title="Delete this webhook?"
        confirmLabel="Delete"
        destructive
        onClose={() => setDel(null)}
        onConfirm={async () => {
          if (!del) return;
          await api(`/beta/admin/webhooks/${del.id}`, { method: "DELETE" });
          if (selected === del.id) setSelected(null);
          await refresh();
        }}
      >
        {del?.url} stops receiving events.
      </ConfirmDialog>
    </Section>
  );
}

function MdmBridge() {
  const qc = useQueryClient();
  const q = useSettings();
  const [url, setUrl] = useState<string | null>(null);
  const [secret, setSecret] = useState("");
  const m = useMutation({
    mutationFn: () =>
      api("/beta/admin/notificationSettings", {
        method: "PATCH",
        body: {
          mdmWebhookUrl: (url ?? q.data?.mdmWebhookUrl ?? "").trim() || null,
          ...(secret ? { mdmWebhookSecret: secret } : {}),
        },
      }),
    onSuccess: () => {
      setSecret("");
      return qc.invalidateQueries({ queryKey: ["notificationSettings"] });
    },
  });
  return (
    <Section title="MDM bridge webhook">
      <Note>
        Allot calls this URL when a device must install or remove an app (license granted, revoked,
        requested). Your MDM reports inventories back with POST /beta/deviceManagement/managedDevices/{"{id}"}
        /reportInstalledApps.
      </Note>
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      <form
        style={{ display: "grid", gap: 12, maxWidth: 560 }}
        onSubmit={(e) => {
          e.preventDefault();
          m.mutate();
        }}
      >
        <Field label="Webhook URL" hint="Empty turns the MDM bridge off.">
          <Input type="url" value={url ?? q.data?.mdmWebhookUrl ?? ""} onChange={(_, d) => setUrl(d.value)} />
        </Field>
        <Field
          label="Signing secret (at least 16 characters)"
          hint={
            q.data?.mdmWebhookSecretConfigured
              ? "A secret is set; type a new one to replace it."
              : "No secret set yet."
          }
        >
          <Input
            type="password"
            value={secret}
            onChange={(_, d) => setSecret(d.value)}
            autoComplete="new-password"
          />
        </Field>
        <div>
          <Button
            type="submit"
            appearance="primary"
            disabled={m.isPending || (secret.length > 0 && secret.length < 16)}
          >
            {m.isPending ? "Saving…" : "Save MDM bridge"}
          </Button>
        </div>
        {m.error ? <ErrorBar error={m.error} /> : null}
        {m.isSuccess ? <p role="status">Saved.</p> : null}
      </form>
    </Section>
  );
}

interface ScimToken {
  id: string;
  displayName: string;
  createdDateTime?: string;
  lastUsedDateTime?: string | null;
  token?: string;
}

function Scim() {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ["scimTokens"],
    queryFn: () => getAll<ScimToken>("/beta/admin/scimTokens"),
  });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [shown, setShown] = useState<ScimToken | null>(null);
  const [del, setDel] = useState<ScimToken | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ["scimTokens"] });
  return (
    <Section
      title="SCIM provisioning"
      actions={
        <Button appearance="primary" onClick={() => setCreating(true)}>
          New SCIM token
        </Button>
      }
    >
      <Note>
        Point your identity provider (Entra ID, Okta) at {window.location.origin}/scim/v2 with a token from
        here to provision users and groups.
      </Note>
      {shown?.token ? (
        <SecretOnce
          title={`SCIM token ${shown.displayName}`}
          label="SCIM bearer token"
          secret={shown.token}
          onDone={() => setShown(null)}
        />
      ) : null}
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      <DataTable<ScimToken>
        label="SCIM tokens"
        height="220px"
        rows={q.data ?? []}
        getRowId={(t) => t.id}
        columns={[
          { key: "displayName", header: "Name" },
          { key: "createdDateTime", header: "Created", render: (t) => when(t.createdDateTime) },
          { key: "lastUsedDateTime", header: "Last used", render: (t) => when(t.lastUsedDateTime) },
          {
            key: "actions",
            header: "Actions",
            sortable: false,
            width: "110px",
            render: (t) => (
              <Button
                size="small"
                onClick={() => setDel(t)}
                aria-label={`Revoke SCIM token ${t.displayName}`}
              >
                Revoke
              </Button>
            ),
          },
        ]}
        empty={
          <EmptyState title={q.isLoading ? "Loading…" : "No SCIM tokens"}>
            {q.isLoading
              ? null
              : "Create a token to let your identity provider keep users and groups in sync."}
          </EmptyState>
        }
      />
      <FormDialog
        open={creating}
        title="New SCIM token"
        submitLabel="Create"
        disabled={!name.trim()}
        onClose={() => setCreating(false)}
        onSubmit={async () => {
          setShown(
            await api<ScimToken>("/beta/admin/scimTokens", {
              method: "POST",
              body: { displayName: name.trim() },
            }),
          );
          setName("");
          await refresh();
        }}
      >
        <Field label="Name" required>
          <Input value={name} onChange={(_, d) => setName(d.value)} />
        </Field>
      </FormDialog>
      <ConfirmDialog
        open={!!del}
        title={`Revoke ${del?.displayName ?? ""}?`}
        confirmLabel="Revoke"
        destructive
        onClose={() => setDel(null)}
        onConfirm={async () => {
          if (!del) return;
          await api(`/beta/admin/scimTokens/${del.id}`, { method: "DELETE" });
          await refresh();
        }}
      >
        Provisioning with this token stops at once.
      </ConfirmDialog>
    </Section>
  );
}

interface VppToken {
  id: string;
  displayName?: string;
  organizationName?: string;
  lastSyncDateTime?: string | null;
  lastSyncStatus?: string;
}

function SyncSchedule() {
  const canRead = useCan("tokens.read");
  const q = useQuery({
    queryKey: ["settings", "tokens"],
    queryFn: () => getAll<VppToken>("/beta/deviceAppManagement/vppTokens"),
    enabled: canRead,
  });
  return (
    <Section title="Sync schedule">
      <Note>
        Every VPP token syncs with Apple on a schedule (every ALLOT_SYNC_INTERVAL_HOURS hours, default 12,
        spread per token) and at once when Apple notifies Allot. Use “Sync now” on VPP tokens for an immediate
        sync.
      </Note>
      {q.error ? <ErrorBar error={q.error} onRetry={() => q.refetch()} /> : null}
      {canRead ? (
        <DataTable<VppToken>
          label="Last syncs"
          height="220px"
          rows={q.data ?? []}
          getRowId={(t) => t.id}
          columns={[
            {
              key: "displayName",
              header: "Token",
              render: (t) => t.displayName || t.organizationName || t.id,
            },
            { key: "lastSyncStatus", header: "Last sync status" },
            { key: "lastSyncDateTime", header: "Last sync", render: (t) => when(t.lastSyncDateTime) },
          ]}
          empty={
            <EmptyState title={q.isLoading ? "Loading…" : "No VPP tokens"}>
              {q.isLoading ? null : "Upload a VPP token first (VPP tokens page)."}
            </EmptyState>
          }
        />
      ) : null}
    </Section>
  );
}

export default function Settings() {
  const canAccess = useCan("access.manage");
  const canNotify = useCan("notifications.manage");
  const tabs = [
    canAccess && ["apps", "App registrations"],
    canAccess && ["admins", "Administrators and roles"],
    canNotify && ["notifications", "Notifications"],
    canNotify && ["mdm", "MDM bridge"],
    canAccess && ["scim", "SCIM"],
    ["sync", "Sync schedule"],
  ].filter(Boolean) as [string, string][];
  const [tab, setTab] = useState(tabs[0][0]);
  return (
    <>
      <PageHeader
        title="Settings"
        description="Access for scripts and administrators, notifications, the MDM bridge, provisioning and sync."
      />
      <TabList
        selectedValue={tab}
        onTabSelect={(_, d) => setTab(String(d.value))}
        aria-label="Settings sections"
      >
        {tabs.map(([k, label]) => (
          <Tab key={k} value={k}>
            {label}
          </Tab>
        ))}
      </TabList>
      {tabs.length === 1 ? (
        <Note>Your role can view the sync schedule only; other settings need a Global administrator.</Note>
      ) : null}
      {tab === "apps" && <AppRegistrations />}
      {tab === "admins" && <Administrators />}
      {tab === "notifications" && (
        <>
          <Email />
          <Webhooks />
        </>
      )}
      {tab === "mdm" && <MdmBridge />}
      {tab === "scim" && <Scim />}
      {tab === "sync" && <SyncSchedule />}
    </>
  );
}
