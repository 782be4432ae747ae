using Portal.Provisioning.Etcd;

namespace Portal.Provisioning.Tests.Etcd;

/// <summary>etcd instances on <see cref="TestEtcd"/>'s server, deprovisioned when the test ends.</summary>
internal sealed class EtcdScope() : DriverScope<EtcdDriver>(TestEtcd.NewDriver(), () => TestEtcd.Endpoint);
