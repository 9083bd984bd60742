namespace RevenueLedger.Application;

/// <summary>A caller's mistake (bad arguments, missing store): reported as a message, never as a stack trace.</summary>
public sealed class LedgerUsageException(string message) : Exception(message);
