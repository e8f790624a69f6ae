// Users: server-paged list with search (startswith on name/UPN/mail), $count, CSV export; a user's
// detail: profile, groups (direct and transitive), devices, licenses held (revoke), Apple users
// (invitation and VPP terms status per token).
import { Badge, Link as FluentLink, Tab, TabList } from "@fluentui/react-components";
import { PeopleRegular } from "@fluentui/react-icons";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, Route, Switch, useLocation, useParams } from "wouter";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable, type SortState } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import { HolderLicenses } from "./HolderLicenses.tsx";
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
} from "./serverList.tsx";

export interface User {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail?: string | null;
  accountEnabled?: boolean;
  department?: string | null;
  jobTitle?: string | null;
  usageLocation?: string | null;
  appleIdEmail?: string | null;
  createdDateTime?: string;
}

const columns: Column<User>[] = [
  { key: "displayName", header: "Name", render: (u) => <Link href={`/${u.id}`}>{u.displayName}</Link> },
  { key: "userPrincipalName", header: "User principal name" },
  { key: "mail", header: "Mail", sortable: false },
  { key: "department", header: "Department", sortable: false },
  {
    key: "accountEnabled",
    header: "Account",
    width: "110px",
    render: (u) => (u.accountEnabled === false ? "Disabled" : "Enabled"),
  },
];

function UserList() {
  const [search, setSearch] = useState("");
  const term = useDebounced(search.trim());
  const [sort, setSort] = useState<SortState>({ key: "displayName", direction: "ascending" });
  const [, navigate] = useLocation();
  const filter = term
    ? `startswith(displayName,${lit(term)}) or startswith(userPrincipalName,${lit(term)}) or startswith(mail,${lit(term)})`
    : undefined;
  const list = useServerList<User>(["users"], "/v1.0/users", {
    $top: 200,
    $filter: filter,
    $orderby: orderBy(sort),
  });
  return (
    <>
      <PageHeader
        title="Users"
        description="Users from your directory (CSV import, SCIM or the API): their groups, devices, licenses and Apple invitations."
        actions={
          <CsvExportButton
            fileName="users.csv"
            build={async () =>
              downloadRowsAsCsv(
                (await getAll<User>(
                  `/v1.0/users?$top=999${filter ? `&$filter=${encodeURIComponent(filter)}` : ""}`,
                )) as never,
                [
                  { key: "displayName", header: "displayName" },
                  { key: "userPrincipalName", header: "userPrincipalName" },
                  { key: "mail", header: "mail" },
                  { key: "department", header: "department" },
                  { key: "accountEnabled", header: "accountEnabled" },
                  { key: "id", header: "id" },
                ],
                "users.csv",
              )
            }
          />
        }
      />
      <Toolbar count={list.count} loaded={list.rows.length}>
        <SearchField
          label="Search users"
          hint="Name, user principal name or mail starts with…"
          value={search}
          onChange={setSearch}
        />
      </Toolbar>
      {list.q.error ? <ErrorBar error={list.q.error} onRetry={() => list.q.refetch()} /> : null}
      <DataTable<User>
        label="Users"
        columns={columns}
        rows={list.rows}
        getRowId={(u) => u.id}
        sort={sort}
        onSortChange={setSort}
        onEndReached={list.onEndReached}
        loadingMore={list.loadingMore}
        onRowClick={(u) => navigate(`/${u.id}`)}
        empty={
          list.q.isLoading ? (
            <EmptyState title="Loading users…" />
          ) : term ? (
            <EmptyState title="No matching users">
              No user's name, user principal name or mail starts with “{term}”.
            </EmptyState>
          ) : (
            <EmptyState icon={<PeopleRegular />} title="No users yet">
              Import users from a CSV file (POST /beta/imports with type users), connect SCIM provisioning
              under Settings, or create them with the API. Then assign apps to their groups.
            </EmptyState>
          )
        }
      />
    </>
  );
}

interface Group {
  id: string;
  displayName: string;
  "@odata.type"?: string;
}
interface Device {
  id: string;
  deviceName: string;
  serialNumber?: string;
  operatingSystem?: string;
}
interface AppleUser {
  id: string;
  vppTokenId: string;
  status: string;
  appleUserStatus: string;
  invitationStatus: string;
  invitationSentDateTime: string | null;
  invitationCount: number;
  eulaStatus: string;
  associatedDateTime: string | null;
}

function UserDetail() {
  const { id } = useParams<{ id: string }>();
  const [tab, setTab] = useState("groups");
  const user = useQuery({
    queryKey: ["user", id],
    queryFn: () => api<User>(`/v1.0/users/${encodeURIComponent(id)}`),
  });
  const nav = tab === "transitive" ? "transitiveMemberOf" : "memberOf";
  const groups = useQuery({
    queryKey: ["user", id, nav],
    queryFn: () => getAll<Group>(`/v1.0/users/${id}/${nav}?$top=999`, { limit: 5000 }),
    enabled: tab === "groups" || tab === "transitive",
  });
  const devices = useQuery({
    queryKey: ["user", id, "devices"],
    queryFn: () => getAll<Device>(`/v1.0/users/${id}/managedDevices`, { limit: 1000 }),
  });
  const apple = useQuery({
    queryKey: ["user", id, "appleVppUsers"],
    queryFn: () => api<{ value: AppleUser[] }>(`/beta/users/${id}/appleVppUsers`),
  });
  if (user.error)
    return (
      <>
        <PageHeader title="User" actions={<Link href="/">Back to users</Link>} />
        <ErrorBar error={user.error} onRetry={() => user.refetch()} />
      </>
    );
  const u = user.data;
  return (
    <>
      <PageHeader
        title={u?.displayName ?? "User"}
        description={u?.userPrincipalName}
        actions={
          <Link href="/" asChild>
            <FluentLink>Back to users</FluentLink>
          </Link>
        }
      />
      <Facts
        items={[
          ["Mail", u?.mail],
          ["Account", u ? (u.accountEnabled === false ? "Disabled" : "Enabled") : null],
          ["Department", u?.department],
          ["Job title", u?.jobTitle],
          ["Usage location", u?.usageLocation],
          ["Managed Apple ID", u?.appleIdEmail],
          ["Created", when(u?.createdDateTime)],
        ]}
      />
      <Section title="Apple invitation and VPP terms">
        {apple.error ? (
          <ErrorBar error={apple.error} onRetry={() => apple.refetch()} />
        ) : (
          <DataTable<AppleUser>
            label="Apple users"
            height="160px"
            rows={apple.data?.value ?? []}
            getRowId={(a) => a.id}
            columns={[
              { key: "vppTokenId", header: "VPP token" },
              { key: "appleUserStatus", header: "Apple status" },
              {
                key: "invitationStatus",
                header: "Invitation",
                render: (a) =>
                  `${a.invitationStatus}${a.invitationCount ? ` (${a.invitationCount} sent, last ${when(a.invitationSentDateTime)})` : ""}`,
              },
              {
                key: "eulaStatus",
                header: "VPP terms",
                render: (a) => (
                  <Badge appearance="tint" color={a.eulaStatus === "accepted" ? "success" : "warning"}>
                    {a.eulaStatus === "accepted" ? "Accepted" : "Pending"}
                  </Badge>
                ),
              },
            ]}
            empty={
              <EmptyState title={apple.isLoading ? "Loading…" : "Not registered with Apple"}>
                {apple.isLoading
                  ? null
                  : "Allot registers the user with Apple (and sends the invitation) when a user-licensed app is first assigned to them."}
              </EmptyState>
            }
          />
        )}
      </Section>
      <Section title="Licenses held">
        {u ? <HolderLicenses holder="user" id={u.id} name={u.displayName} /> : null}
      </Section>
      <Section title="Memberships and devices">
        <TabList
          selectedValue={tab}
          onTabSelect={(_, d) => setTab(String(d.value))}
          aria-label="User relations"
        >
          <Tab value="groups">Groups (direct)</Tab>
          <Tab value="transitive">Groups (transitive)</Tab>
          <Tab value="devices">Devices ({devices.data?.length ?? "…"})</Tab>
        </TabList>
        {tab === "devices" ? (
          devices.error ? (
            <ErrorBar error={devices.error} onRetry={() => devices.refetch()} />
          ) : (
            <DataTable<Device>
              label="Devices of the user"
              height="240px"
              rows={devices.data ?? []}
              getRowId={(d) => d.id}
              columns={[
                {
                  key: "deviceName",
                  header: "Device",
                  render: (d) => <Link href={`~/devices/${d.id}`}>{d.deviceName}</Link>,
                },
                { key: "serialNumber", header: "Serial number" },
                { key: "operatingSystem", header: "OS" },
              ]}
              empty={
                <EmptyState title="No devices">
                  No managed device has this user as its primary user.
                </EmptyState>
              }
            />
          )
        ) : groups.error ? (
          <ErrorBar error={groups.error} onRetry={() => groups.refetch()} />
        ) : (
          <DataTable<Group>
            label={tab === "transitive" ? "Transitive groups" : "Direct groups"}
            height="240px"
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
                {groups.isLoading ? null : "The user is in no group yet."}
              </EmptyState>
            }
          />
        )}
      </Section>
    </>
  );
}

export default function Users() {
  return (
    <Switch>
      <Route path="/:id" component={UserDetail} />
      <Route component={UserList} />
    </Switch>
  );
}
