using System.Diagnostics;
using System.Text.RegularExpressions;
using DistilBert.Cli;

namespace DistilBert.Tests;

/// <summary>
/// What a .NET developer does with the packages (docs/packages.md): `dotnet pack` the three, `dotnet tool install` the CLI
/// from that folder and run it, and restore the library into a new console project that runs a pipeline. Everything is
/// restored offline: the pack folder plus this machine's global packages folder (which the solution's own restore has
/// filled with every dependency), into a private packages folder so no earlier run's cache is used.
/// </summary>
public sealed class PackageTests : IDisposable
{
    readonly TempDirectory _tmp = new("pack");

    public void Dispose() => _tmp.Dispose();

    static string RepositoryRoot => Path.GetFullPath(Path.Combine(Fixtures.Root, "..", ".."));

    /// <summary>The configuration the tests were built in: pack uses those outputs (--no-build) rather than rebuilding.</summary>
    static string Configuration =>
        AppContext.BaseDirectory.Split(Path.DirectorySeparatorChar).Contains("Debug") ? "Debug" : "Release";

    /// <summary>The package version (the CLI's version without the commit).</summary>
    static string PackageVersion => Program.Version.Split('+')[0];

    [Fact]
    public void PackedToolInstallsAndRunsAndTheLibraryRestoresIntoANewProject()
    {
        var feed = Directory.CreateDirectory(_tmp.File("feed")).FullName;
        var packages = _tmp.File("packages");
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(_tmp.File("nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="packed" value="{feed}" />
                <add key="this-machine" value="{globalPackages}" />
              </packageSources>
            </configuration>
            """);

        Dotnet(RepositoryRoot, "pack", Path.Combine(RepositoryRoot, "DistilBert.sln"), "-c", Configuration, "--no-build", "-o", feed,
            "-nodeReuse:false");
        var packed = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[] { $"DistilBert.{PackageVersion}.nupkg", $"DistilBert.Cli.{PackageVersion}.nupkg", $"DistilBert.Server.{PackageVersion}.nupkg" }, packed);

        // The tool, installed as a user would (the package id is DistilBert.Cli: NuGet ids ignore case, "distilbert" is the library).
        var tools = _tmp.File("tools");
        Dotnet(_tmp.Path, "tool", "install", "DistilBert.Cli", "--tool-path", tools, "--add-source", feed, "--version", PackageVersion,
            "--configfile", _tmp.File("nuget.config"));
        var distilbert = Path.Combine(tools, "distilbert");
        var version = Run(distilbert, _tmp.Path, "--version").Trim();
        Assert.Equal(Program.Version, version);
        // Outside any checkout: the model it classifies with must have come inside the package.
        var classified = Run(distilbert, _tmp.Path, "classify", "a gorgeous movie", "--json");
        Assert.Matches(new Regex("""^\[\{"label":"(positive|negative)","score":0\.\d+\}\]$"""), classified.Trim());

        // A new console project that takes the library from the pack folder and runs a pipeline.
        var app = Directory.CreateDirectory(_tmp.File("app")).FullName;
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="DistilBert" Version="{PackageVersion}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using DistilBert.Pipelines;

            var classifier = TextClassificationPipeline.Load(args[0]);
            var best = classifier.Predict("a gorgeous, witty, seductive movie")[0];
            Console.WriteLine($"{best.Label} {best.Score:F4}");
            """);
        Dotnet(app, "build", "-c", "Release", "-nodeReuse:false", "--configfile", _tmp.File("nuget.config"));
        var answer = Dotnet(app, Path.Combine(app, "bin", "Release", "net10.0", "app.dll"),
            Path.Combine(RepositoryRoot, "models", "sentiment-teacher"));
        Assert.Matches(new Regex(@"^(positive|negative) 0\.\d{4}$"), answer.Trim());
        Assert.True(Directory.Exists(Path.Combine(packages, "distilbert", PackageVersion.ToLowerInvariant())),
            "the library was not restored into the test's own packages folder");

        string Dotnet(string directory, params string[] args) =>
            Run(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", directory, args);

        string Run(string program, string directory, params string[] args)
        {
            var start = new ProcessStartInfo(program)
            {
                WorkingDirectory = directory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (var a in args) start.ArgumentList.Add(a);
            // `dotnet test` hands its MSBuild's location to the test host; a child `dotnet` must find its own.
            foreach (var name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
                start.Environment.Remove(name);
            start.Environment["NUGET_PACKAGES"] = packages;
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(entireProcessTree: true); Assert.Fail($"{program} {string.Join(' ', args)} timed out"); }
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}:\n{stdout}\n{stderr.Result}");
            return stdout;
        }
    }
}
