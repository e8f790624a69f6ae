// The app's assignments as an editable list (include/exclude groups, all users, all devices; intent;
// user or device licensing; settings). "Preview" runs the dry run (previewAssign) and shows who gets
// a license, who waits and why, what is released and the cost; "Save" applies the same list (assign).
import {
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Dropdown,
  Field,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  makeStyles,
  Option,
  Spinner,
  Switch,
  Text,
  Tooltip,
  tokens,
} from "@fluentui/react-components";
import { AddRegular, DeleteRegular } from "@fluentui/react-icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, getAll } from "../../api/client.ts";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import {
  APPS_PATH,
  type Assignment,
  kindOf,
  money,
  type Preview,
  reasonText,
  type StoreApp,
  type TargetKind,
} from "./appModel.ts";
import { resolveHolderNames } from "./holderNames.ts";

const useStyles = makeStyles({
  surface: { maxWidth: "960px", width: "calc(100vw - 48px)" },
  list: { display: "flex", flexDirection: "column", gap: "8px" },
  row: {
    display: "grid",
    gridTemplateColumns: "1.4fr 1fr 1fr auto",
    gap: "8px",
    alignItems: "end",
    padding: "8px",
    border: `1px solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  settings: { gridColumn: "1 / -1", display: "flex", flexWrap: "wrap", gap: "4px 16px" },
  add: { display: "flex", gap: "8px", flexWrap: "wrap" },
  preview: { display: "grid", gridTemplateColumns: "repeat(3, 1fr)", gap: "12px", marginTop: "8px" },
  col: {
    border: `1px solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
    padding: "8px",
    maxHeight: "220px",
    overflow: "auto",
  },
  ul: { margin: 0, paddingInlineStart: "18px" },
  reason: { color: tokens.colorNeutralForeground3, fontSize: tokens.fontSizeBase200, display: "block" },
});

const targetTypes: Record<TargetKind, string> = {
  groupAssignmentTarget: "Include group",
  exclusionGroupAssignmentTarget: "Exclude group",
  allLicensedUsersAssignmentTarget: "All users",
  allDevicesAssignmentTarget: "All devices",
};

interface Group {
  id: string;
  displayName: string;
}

/** The body assign/previewAssign take: the whole list, settings typed for the app's platform. */
export function assignBody(app: StoreApp, list: Assignment[]) {
  const mac = kindOf(app["@odata.type"]).startsWith("macOs");
  const settingsType = mac
    ? "#microsoft.graph.macOsVppAppAssignmentSettings"
    : "#microsoft.graph.iosVppAppAssignmentSettings";
  return {
    mobileAppAssignments: list.map((a) => {
      const exclude = kindOf(a.target["@odata.type"]) === "exclusionGroupAssignmentTarget";
      const { "@odata.type": _t, ...rest } = a.settings ?? {};
      const settings = Object.fromEntries(
        Object.entries(rest).filter(
          ([k, v]) => v !== null && v !== undefined && !(mac && k === "isRemovable"),
        ),
      );
      return {
        "@odata.type": "#microsoft.graph.mobileAppAssignment",
        intent: a.intent,
        target: a.target,
        ...(exclude
          ? {}
          : { settings: { "@odata.type": settingsType, useDeviceLicensing: false, ...settings } }),
      };
    }),
  };
}

export function AssignmentEditor(props: {
  app: StoreApp;
  current: Assignment[];
  knownNames: Map<string, string>;
  onClose: () => void;
  /** Called once the assignments are saved (before the dialog closes). */
  onSaved?: () => void;
}) {
  const s = useStyles();
  const qc = useQueryClient();
  const { app } = props;
  // uid: a stable React key for rows that have no id yet (new, unsaved assignments).
  const [list, setList] = useState<(Assignment & { uid: string })[]>(() =>
    props.current.map((a, i) => ({ ...a, uid: a.id ?? `current-${i}` })),
  );
  const [preview, setPreview] = useState<Preview | null>(null);
  const [names, setNames] = useState<Map<string, string>>(props.knownNames);
  const [busy, setBusy] = useState<"" | "preview" | "save">("");
  const [error, setError] = useState<unknown>(null);
  const deviceOk = app.licensingType?.supportsDeviceLicensing !== false;

  const groups = useQuery({
    queryKey: ["groups", "picker"],
    queryFn: () => getAll<Group>("/v1.0/groups?$select=id,displayName&$top=999", { limit: 5000 }),
  });
  const groupName = (id: string) => groups.data?.find((g) => g.id === id)?.displayName ?? id;

  const change = (i: number, next: Partial<Assignment>) => {
    setPreview(null);
    setList((l) => l.map((a, j) => (j === i ? { ...a, ...next } : a)));
  };
  const add = (kind: TargetKind) => {
    setPreview(null);
    const grouped = kind === "groupAssignmentTarget" || kind === "exclusionGroupAssignmentTarget";
    setList((l) => [
      ...l,
      {
        uid: `new-${Date.now()}-${l.length}`,
        intent: "required",
        target: { "@odata.type": `#microsoft.graph.${kind}`, ...(grouped ? { groupId: "" } : {}) },
        settings:
          kind === "exclusionGroupAssignmentTarget"
            ? null
            : { useDeviceLicensing: deviceOk && kind === "allDevicesAssignmentTarget" },
      },
    ]);
  };
  const incomplete = list.some((a) => a.target.groupId === "");

  const runPreview = async () => {
    setBusy("preview");
    setError(null);
    try {
      const p = await api<Preview>(`${APPS_PATH}/${app.id}/previewAssign`, {
        method: "POST",
        body: assignBody(app, list),
      });
      setNames(await resolveHolderNames([...p.licensed, ...p.waiting, ...p.released], names));
      setPreview(p);
    } catch (err) {
      setError(err);
    } finally {
      setBusy("");
    }
  };
  const save = async () => {
    setBusy("save");
    setError(null);
    try {
      await api(`${APPS_PATH}/${app.id}/assign`, { method: "POST", body: assignBody(app, list) });
      props.onSaved?.();
      await qc.invalidateQueries();
      props.onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy("");
    }
  };

  const nameOf = (id: string) => names.get(id) ?? id;
  const shortfall = preview?.counts.shortfall ?? 0;

  return (
    <Dialog open onOpenChange={(_, d) => !d.open && !busy && props.onClose()}>
      <DialogSurface className={s.surface} aria-describedby={undefined}>
        <DialogBody>
          <DialogTitle>Edit assignments of {app.displayName}</DialogTitle>
          <DialogContent>
            <div className={s.list}>
              {list.length === 0 && (
                <Text>No assignment: nobody gets this app. Add a group, all users or all devices.</Text>
              )}
              {list.map((a, i) => {
                const kind = kindOf(a.target["@odata.type"]) as TargetKind;
                const grouped = a.target.groupId !== undefined;
                const exclude = kind === "exclusionGroupAssignmentTarget";
                const st = a.settings ?? {};
                const label = `Assignment ${i + 1}`;
                return (
                  // biome-ignore lint/a11y/useSemanticElements: a fieldset's legend would break this grid row's layout
                  <div
                    key={a.uid}
                    className={s.row}
                    role="group"
                    aria-label={`${label}: ${targetTypes[kind]}`}
                  >
                    <Field label={grouped ? `${targetTypes[kind]} (${label})` : `Target (${label})`}>
                      {grouped ? (
                        <Dropdown
                          placeholder="Choose a group"
                          value={a.target.groupId ? groupName(a.target.groupId) : ""}
                          selectedOptions={a.target.groupId ? [a.target.groupId] : []}
                          onOptionSelect={(_, d) =>
                            change(i, { target: { ...a.target, groupId: d.optionValue ?? "" } })
                          }
                        >
                          {(groups.data ?? []).map((g) => (
                            <Option key={g.id} value={g.id}>
                              {g.displayName}
                            </Option>
                          ))}
                        </Dropdown>
                      ) : (
                        <Text weight="semibold">{targetTypes[kind]}</Text>
                      )}
                    </Field>
                    <Field label={`Intent (${label})`}>
                      <Dropdown
                        value={a.intent[0].toUpperCase() + a.intent.slice(1)}
                        selectedOptions={[a.intent]}
                        disabled={exclude}
                        onOptionSelect={(_, d) =>
                          change(i, { intent: d.optionValue as Assignment["intent"] })
                        }
                      >
                        <Option value="required">Required</Option>
                        <Option value="available">Available</Option>
                        <Option value="uninstall">Uninstall</Option>
                      </Dropdown>
                    </Field>
                    <Field label={`Licensing (${label})`}>
                      <Dropdown
                        disabled={exclude}
                        value={exclude ? "—" : st.useDeviceLicensing ? "Device licensing" : "User licensing"}
                        selectedOptions={[st.useDeviceLicensing ? "device" : "user"]}
                        onOptionSelect={(_, d) =>
                          change(i, { settings: { ...st, useDeviceLicensing: d.optionValue === "device" } })
                        }
                      >
                        <Option value="user">User licensing</Option>
                        <Option value="device" disabled={!deviceOk}>
                          Device licensing
                        </Option>
                      </Dropdown>
                    </Field>
                    <Tooltip content={`Remove ${label}`} relationship="label">
                      <Button
                        icon={<DeleteRegular />}
                        onClick={() => {
                          setPreview(null);
                          setList((l) => l.filter((_, j) => j !== i));
                        }}
                      />
                    </Tooltip>
                    {!exclude && (
                      <div className={s.settings}>
                        <Switch
                          label="Uninstall when the device is removed"
                          checked={!!st.uninstallOnDeviceRemoval}
                          onChange={(_, d) =>
                            change(i, { settings: { ...st, uninstallOnDeviceRemoval: d.checked } })
                          }
                        />
                        <Switch
                          label="Users may remove the app"
                          checked={st.isRemovable !== false}
                          onChange={(_, d) => change(i, { settings: { ...st, isRemovable: d.checked } })}
                        />
                        <Switch
                          label="Prevent backup of app data"
                          checked={!!st.preventManagedAppBackup}
                          onChange={(_, d) =>
                            change(i, { settings: { ...st, preventManagedAppBackup: d.checked } })
                          }
                        />
                        <Switch
                          label="Prevent automatic updates"
                          checked={!!st.preventAutoAppUpdate}
                          onChange={(_, d) =>
                            change(i, { settings: { ...st, preventAutoAppUpdate: d.checked } })
                          }
                        />
                      </div>
                    )}
                  </div>
                );
              })}
              <div className={s.add}>
                {(Object.keys(targetTypes) as TargetKind[]).map((k) => (
                  <Button key={k} icon={<AddRegular />} onClick={() => add(k)}>
                    {targetTypes[k]}
                  </Button>
                ))}
              </div>
            </div>

            {preview && (
              <section aria-label="Dry run result">
                <MessageBar intent={shortfall > 0 ? "warning" : "success"} layout="multiline">
                  <MessageBarBody>
                    <MessageBarTitle>Dry run: nothing has changed yet</MessageBarTitle>
                    {preview.licensed.length} get a license, {preview.waiting.length} wait,{" "}
                    {preview.released.length} released. Licenses in use after saving:{" "}
                    {preview.counts.consuming ?? preview.counts.licensed}
                    {shortfall > 0 ? `; ${shortfall} more needed` : ""}. Cost of new licenses:{" "}
                    {money(preview.cost.newlyLicensedValue ?? preview.cost.newlyAssignedValue)}
                    {preview.cost.unitPrice !== null ? ` (unit price ${money(preview.cost.unitPrice)})` : ""}
                    {shortfall > 0
                      ? `; serving everyone waiting would cost ${money(preview.cost.shortfallValue)}`
                      : ""}
                    .
                  </MessageBarBody>
                </MessageBar>
                <div className={s.preview}>
                  <section className={s.col} aria-label={`Get a license (${preview.licensed.length})`}>
                    <Text weight="semibold">Get a license ({preview.licensed.length})</Text>
                    <ul className={s.ul}>
                      {preview.licensed.map((h) => (
                        <li key={h.id}>
                          {nameOf(h.id)} <span className={s.reason}>{h.type}</span>
                        </li>
                      ))}
                    </ul>
                  </section>
                  <section className={s.col} aria-label={`Wait (${preview.waiting.length})`}>
                    <Text weight="semibold">Wait ({preview.waiting.length})</Text>
                    <ul className={s.ul}>
                      {preview.waiting.map((h) => (
                        <li key={h.id}>
                          {nameOf(h.id)} <span className={s.reason}>{reasonText(h.reason)}</span>
                        </li>
                      ))}
                    </ul>
                  </section>
                  <section className={s.col} aria-label={`Released (${preview.released.length})`}>
                    <Text weight="semibold">Released ({preview.released.length})</Text>
                    <ul className={s.ul}>
                      {preview.released.map((h) => (
                        <li key={h.id}>
                          {nameOf(h.id)} <span className={s.reason}>{h.type}</span>
                        </li>
                      ))}
                    </ul>
                  </section>
                </div>
              </section>
            )}
            {error ? <ErrorBar error={error} title="The assignments were not changed" /> : null}
          </DialogContent>
          <DialogActions>
            <Button onClick={props.onClose} disabled={!!busy}>
              Cancel
            </Button>
            <Button
              onClick={runPreview}
              disabled={!!busy || incomplete}
              icon={busy === "preview" ? <Spinner size="tiny" /> : undefined}
            >
              Preview (dry run)
            </Button>
            <Button
              appearance="primary"
              onClick={save}
              disabled={!!busy || incomplete || !preview}
              title={preview ? undefined : "Run the preview first"}
              icon={busy === "save" ? <Spinner size="tiny" /> : undefined}
            >
              Save
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
