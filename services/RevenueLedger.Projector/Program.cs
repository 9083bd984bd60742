using RevenueLedger.Projector;

return await ProjectorWorker.RunAsync(args, Console.Out, Console.Error);
