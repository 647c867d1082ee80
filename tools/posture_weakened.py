"""The posture check must be able to fail: weaken infra/template.yaml one way at a time, write each copy to a
folder of its own, and require tools/posture.sh to fail on it, naming the check that caught it. A JSON copy of the
unweakened template, in another folder, must pass.

Each weakening replaces one exact piece of the template (the first occurrence, when it repeats), so a template
change that removes the piece fails here loudly instead of silently testing nothing.
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor
import subprocess
import sys
import tempfile
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
PIPELINE = ROOT / "infra" / "pipeline.yaml"
POSTURE = ROOT / "tools" / "posture.sh"

# name, text to find, its replacement, what must appear in the failing output
WEAKENINGS = [
    (
        "function-log-level-unset",
        "        ApplicationLogLevel: !Ref LogLevel\n",
        "",
        "operations.guard/functions_log_json_by_level",
    ),
    (
        "bucket-sse-s3",
        'SSEAlgorithm: "aws:kms", KMSMasterKeyID: !GetAtt DataKey.Arn }',
        "SSEAlgorithm: AES256 }",
        "s3.guard/s3_sse_kms",
    ),
    (
        "bucket-unversioned",
        "VersioningConfiguration: { Status: Enabled }",
        "VersioningConfiguration: { Status: Suspended }",
        "s3.guard/s3_versioned",
    ),
    (
        "bucket-public-policy-allowed",
        "BlockPublicPolicy: true",
        "BlockPublicPolicy: false",
        "s3.guard/s3_public_access_blocked",
    ),
    (
        "bucket-plain-http",
        """          - Sid: DenyInsecureTransport
            Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: [!GetAtt RawBucket.Arn, !Sub "${RawBucket.Arn}/*"]
            Condition: { Bool: { aws:SecureTransport: "false" } }
""",
        "",
        "s3.guard/s3_tls_only",
    ),
    (
        "role-whole-service",
        "Action: [ssm:GetParameter]",
        'Action: ["ssm:*"]',
        "iam.guard/iam_no_wildcard_actions",
    ),
    (
        "role-any-training-job-anywhere",
        """                Action: [sagemaker:DescribeTrainingJob]
                Resource: !Sub "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/*\"""",
        """                Action: [sagemaker:DescribeTrainingJob]
                Resource: "*\"""",
        "iam.guard/iam_wildcard_resources_only_where_unscopable",
    ),
    (
        "passrole-to-any-service",
        """                Resource: !GetAtt SageMakerExecutionRole.Arn
                Condition:
                  StringEquals:
                    iam:PassedToService: sagemaker.amazonaws.com
""",
        """                Resource: !GetAtt SageMakerExecutionRole.Arn
""",
        "iam.guard/iam_passrole_scoped",
    ),
    (
        "topic-unencrypted",
        """      TopicName: !Sub "${ProjectName}-notices"
      KmsMasterKeyId: !Ref DataKey
""",
        """      TopicName: !Sub "${ProjectName}-notices"
""",
        "encryption.guard/sns_encrypted",
    ),
    (
        "queue-unencrypted",
        """      QueueName: !Sub "${ProjectName}-ingest"
      KmsMasterKeyId: !Ref DataKey
""",
        """      QueueName: !Sub "${ProjectName}-ingest"
""",
        "encryption.guard/sqs_encrypted",
    ),
    (
        "log-group-unencrypted",
        """      LogGroupName: !Sub "/aws/lambda/${ProjectName}-validate-ingest"
      RetentionInDays: !Ref LogRetentionDays
      KmsKeyId: !GetAtt DataKey.Arn
""",
        """      LogGroupName: !Sub "/aws/lambda/${ProjectName}-validate-ingest"
      RetentionInDays: !Ref LogRetentionDays
""",
        "encryption.guard/log_groups_encrypted_with_retention",
    ),
    (
        "secret-default-key",
        """      KmsKeyId: !Ref DataKey
      GenerateSecretString:""",
        """      GenerateSecretString:""",
        "encryption.guard/secrets_encrypted",
    ),
    (
        "key-never-rotates",
        "EnableKeyRotation: true",
        "EnableKeyRotation: false",
        "encryption.guard/kms_rotation",
    ),
    (
        "state-chain-expires",
        "            Prefix: ledger/\n            ExpirationInDays: 400",
        "            Prefix: lineage/\n            ExpirationInDays: 400",
        "state.guard/state_chain_never_expires",
    ),
    (
        "serving-record-open-to-drift-handler",
        """                Resource: !Sub "${StateBucket.Arn}/drift-handler/*"
""",
        """                Resource:
                  - !Sub "${StateBucket.Arn}/drift-handler/*"
                  - !Sub "${StateBucket.Arn}/serving/*"
""",
        "state.guard/serving_record_written_by_deploy_alone",
    ),
    (
        "endpoint-moved-by-an-ml-engineer",
        "            Action: [sagemaker:ListModelPackages, sagemaker:ListTrainingJobs]",
        "            Action: [sagemaker:ListModelPackages, sagemaker:ListTrainingJobs, sagemaker:UpdateEndpoint]",
        "state.guard/endpoints_moved_by_deploy_alone",
    ),
    (
        "lineage-key-that-encrypts",
        "      KeySpec: ECC_NIST_P256\n      KeyUsage: SIGN_VERIFY",
        "      KeySpec: RSA_2048\n      KeyUsage: ENCRYPT_DECRYPT",
        "encryption.guard/asymmetric_keys_only_sign",
    ),
    (
        "workflow-untraced",
        "Tracing: { Enabled: true }",
        "Tracing: { Enabled: false }",
        "operations.guard/state_machines_log_and_trace",
    ),
    (
        "rule-target-without-dlq",
        """        - Id: ingest-queue
          Arn: !GetAtt IngestQueue.Arn
          DeadLetterConfig: { Arn: !GetAtt EventsDeadLetterQueue.Arn }
""",
        """        - Id: ingest-queue
          Arn: !GetAtt IngestQueue.Arn
""",
        "operations.guard/rule_targets_have_dlq",
    ),
    (
        "async-failures-dropped",
        """      FunctionName: !Ref DriftHandlerFunction
      Qualifier: $LATEST
      MaximumRetryAttempts: 2
      DestinationConfig:
        OnFailure: { Destination: !GetAtt EventsDeadLetterQueue.Arn }
""",
        """      FunctionName: !Ref DriftHandlerFunction
      Qualifier: $LATEST
      MaximumRetryAttempts: 2
""",
        "operations.guard/async_invocations_keep_failures",
    ),
    (
        "ingest-queue-without-redrive",
        """      VisibilityTimeout: 1800
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt IngestDeadLetterQueue.Arn
        maxReceiveCount: 5
""",
        """      VisibilityTimeout: 1800
""",
        "operations.guard/queues_redrive_to_dead_letters",
    ),
    (
        "data-engineer-replaces-the-contract",
        """          - Sid: ReadContract
            Effect: Allow
            Action: [ssm:GetParameter]""",
        """          - Sid: ReadContract
            Effect: Allow
            Action: [ssm:GetParameter, ssm:PutParameter]""",
        "state.guard/only_the_contract_owner_changes_parameters",
    ),
    (
        "uploader-writes-guardrail-state",
        """            Action: [s3:PutObject, s3:GetObject]
            Resource: !Sub "${RawBucket.Arn}/*\"""",
        """            Action: [s3:PutObject, s3:GetObject]
            Resource: [!Sub "${RawBucket.Arn}/*", !Sub "${StateBucket.Arn}/*"]""",
        "state.guard/personas_never_reach_the_state_bucket",
    ),
    (
        "state-versions-deletable-by-anyone",
        "Action: [s3:PutObject, s3:DeleteObject, s3:DeleteObjectVersion, s3:PutObjectAcl,",
        "Action: [s3:PutObject, s3:DeleteObject, s3:PutObjectAcl,",
        "state.guard/state_bucket_writable_only_by_the_functions",
    ),
    (
        "trust-anyone",
        """            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole""",
        """            Principal: { AWS: "*" }
            Action: sts:AssumeRole""",
        "grants.guard/iam_trust_names_its_principals",
    ),
    (
        "role-with-administrator-access",
        """        - !If [InVpc, !Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole", !Ref AWS::NoValue]
""",
        """        - !If [InVpc, !Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole", !Ref AWS::NoValue]
        - !Sub "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"
""",
        "grants.guard/iam_no_broad_managed_policies",
    ),
    (
        "topic-open-to-anyone",
        """            Principal:
              Service: cloudwatch.amazonaws.com
            Action: sns:Publish""",
        """            Principal:
              AWS: "*"
            Action: sns:Publish""",
        "grants.guard/resource_policies_let_no_one_else_in",
    ),
    (
        "key-shared-with-another-account",
        'Principal: { AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" }',
        'Principal: { AWS: "arn:aws:iam::210987654321:root" }',
        "grants.guard/resource_policies_let_no_one_else_in",
    ),
    (
        "queue-open-to-anyone",
        """          - Sid: RawUploadsRuleSends
            Effect: Allow
            Principal: { Service: events.amazonaws.com }""",
        """          - Sid: RawUploadsRuleSends
            Effect: Allow
            Principal: "*\"""",
        "grants.guard/resource_policies_let_no_one_else_in",
    ),
    (
        "bucket-readable-by-anyone",
        """      Bucket: !Ref RawBucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
""",
        """      Bucket: !Ref RawBucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - { Effect: Allow, Principal: "*", Action: s3:GetObject, Resource: !Sub "${RawBucket.Arn}/*" }
""",
        "grants.guard/resource_policies_let_no_one_else_in",
    ),
    (
        "role-any-bucket",
        """                Resource: !Sub "${RawBucket.Arn}/*\"""",
        """                Resource: "arn:aws:s3:::*\"""",
        "grants.guard/iam_no_service_wide_resources",
    ),
    (
        "passrole-glob",
        "Action: [iam:PassRole]",
        'Action: ["iam:Pass*"]',
        "grants.guard/iam_no_action_globs",
    ),
    (
        "persona-object-glob",
        "Action: [s3:PutObject, s3:GetObject]",
        'Action: ["s3:*Object*"]',
        "grants.guard/iam_no_action_globs",
    ),
    (
        "persona-assume-glob",
        """            Action: [lambda:InvokeFunction]""",
        """            Action: [lambda:InvokeFunction, "sts:Assume*"]""",
        "grants.guard/iam_no_action_globs",
    ),
    (
        "alarm-with-an-invalid-operator",
        "ComparisonOperator: GreaterThanThreshold",
        "ComparisonOperator: GreaterThan",
        "E3030",  # cfn-lint: not one of the allowed values
    ),
    (
        "alarm-publishes-plain-text",
        """      AlarmName: !Sub "${ProjectName}-validate-ingest-errors"
""",
        """      AlarmName: !Sub "${ProjectName}-validate-ingest-errors"
      AlarmActions: [!Ref NoticeTopic]
""",
        "operations.guard/notices_go_through_the_notifier",
    ),
    (
        "subscription-without-dead-letters",
        """      Endpoint: !GetAtt SlackForwarderFunction.Arn
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt EventsDeadLetterQueue.Arn
""",
        """      Endpoint: !GetAtt SlackForwarderFunction.Arn
""",
        "operations.guard/subscriptions_keep_failures",
    ),
    (
        "sns-invoked-function-drops-failures",
        """      MaximumEventAgeInSeconds: 21600
      DestinationConfig:
        OnFailure: { Destination: !GetAtt EventsDeadLetterQueue.Arn }
""",
        """      MaximumEventAgeInSeconds: 21600
""",
        "operations.guard/async_invocations_keep_failures",
    ),
    (
        "auditor-reads-secret-values",
        "Action: [kms:ListKeys, kms:DescribeKey, kms:GetKeyRotationStatus, kms:GetKeyPolicy, sns:ListTopics, sns:GetTopicAttributes, sqs:ListQueues, sqs:GetQueueUrl, sqs:GetQueueAttributes, secretsmanager:ListSecrets, secretsmanager:DescribeSecret]",
        "Action: [kms:ListKeys, kms:DescribeKey, kms:GetKeyRotationStatus, kms:GetKeyPolicy, sns:ListTopics, sns:GetTopicAttributes, sqs:ListQueues, sqs:GetQueueUrl, sqs:GetQueueAttributes, secretsmanager:ListSecrets, secretsmanager:DescribeSecret, secretsmanager:GetSecretValue]",
        "iam.guard/auditors_read_only_configuration",
    ),
    (
        "auditor-writes-suppressions",
        "Action: [ssm:GetParametersByPath]\n                Resource: !Sub \"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${ProjectName}/posture-audit/suppressions\"",
        "Action: [ssm:GetParametersByPath, ssm:PutParameter]\n                Resource: !Sub \"arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${ProjectName}/posture-audit/suppressions*\"",
        "state.guard/only_the_contract_owner_changes_parameters",
    ),
    (
        "auditor-changes-buckets",
        "Action: [s3:ListAllMyBuckets, s3:GetBucketLocation,",
        "Action: [s3:PutBucketPolicy, s3:ListAllMyBuckets, s3:GetBucketLocation,",
        "iam.guard/auditors_read_only_configuration",
    ),
    (
        "subnet-route-to-internet",
        """  PrivateSubnetARoutes:
""",
        """  InternetGateway:
    Type: AWS::EC2::InternetGateway
    Condition: CreatesNetwork

  InternetRoute:
    Type: AWS::EC2::Route
    Condition: CreatesNetwork
    Properties:
      RouteTableId: !Ref PrivateRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref InternetGateway

  PrivateSubnetARoutes:
""",
        "network.guard/network_has_no_way_out",
    ),
    (
        "security-group-open-to-the-world",
        """      VpcId: !Ref Vpc
      SecurityGroupEgress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0, Description: "HTTPS to the VPC endpoints" }
""",
        """      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: 0.0.0.0/0, Description: "ssh" }
      SecurityGroupEgress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0, Description: "HTTPS to the VPC endpoints" }
""",
        "network.guard/security_groups_admit_no_address_range",
    ),
    (
        "egress-anywhere-on-any-port",
        '- { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0, Description: "HTTPS to the VPC endpoints" }',
        '- { IpProtocol: "-1", CidrIp: 0.0.0.0/0, Description: "anything anywhere" }',
        "network.guard/security_groups_admit_no_address_range",
    ),
    (
        "endpoint-without-policy",
        """      ServiceName: !Sub "com.amazonaws.${AWS::Region}.sts"
      VpcEndpointType: Interface
      PrivateDnsEnabled: true
      SubnetIds: [!Ref PrivateSubnetA, !Ref PrivateSubnetB]
      SecurityGroupIds: [!GetAtt EndpointSecurityGroup.GroupId]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: ThisAccountOnly
            Effect: Allow
            Principal: "*"
            Action: "*"
            Resource: "*"
            Condition:
              StringEquals:
                aws:PrincipalAccount: !Ref AWS::AccountId
""",
        """      ServiceName: !Sub "com.amazonaws.${AWS::Region}.sts"
      VpcEndpointType: Interface
      PrivateDnsEnabled: true
      SubnetIds: [!Ref PrivateSubnetA, !Ref PrivateSubnetB]
      SecurityGroupIds: [!GetAtt EndpointSecurityGroup.GroupId]
""",
        "network.guard/vpc_endpoints_have_policies",
    ),
    (
        "flow-logs-rejects-only",
        "      TrafficType: ALL\n",
        "      TrafficType: REJECT\n",
        "network.guard/vpc_flow_logs",
    ),
    (
        "dataset-bucket-reachable-from-anywhere",
        """            - Sid: DenyDataOutsideTheVpc
              Effect: Deny
""",
        """            - Sid: DenyDataOutsideTheVpc
              Effect: Allow
""",
        "network.guard/data_buckets_only_through_the_vpc",
    ),
    (
        "function-leaves-the-vpc-unexplained",
        """      FunctionName: !Sub "${ProjectName}-validate-ingest"
""",
        """      FunctionName: !Sub "${ProjectName}-validate-ingest"
      VpcConfig: !Ref AWS::NoValue
""",
        "network.guard/functions_in_the_private_network",
    ),
    (
        "queue-plain-http",
        """  TlsOnlyQueuesPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref IngestDeadLetterQueue, !Ref NoticeDigestDeadLetterQueue, !Ref NoticeDigestQueue]""",
        """  TlsOnlyQueuesPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref IngestDeadLetterQueue, !Ref NoticeDigestDeadLetterQueue]""",
        "encryption.guard/sqs_tls_only",
    ),
    (
        "images-not-scanned-on-push",
        "ImageScanningConfiguration: { ScanOnPush: true }",
        "ImageScanningConfiguration: { ScanOnPush: false }",
        "supply_chain.guard/images_scanned_immutable_encrypted",
    ),
    (
        "image-tags-mutable",
        "ImageTagMutability: IMMUTABLE",
        "ImageTagMutability: MUTABLE",
        "supply_chain.guard/images_scanned_immutable_encrypted",
    ),
    (
        "function-without-code-signing",
        "      CodeSigningConfigArn: !GetAtt CodeSigningConfig.CodeSigningConfigArn\n",
        "",
        "supply_chain.guard/functions_run_signed_code",
    ),
    (
        "unsigned-code-only-warned",
        "UntrustedArtifactOnDeployment: Enforce",
        "UntrustedArtifactOnDeployment: Warn",
        "supply_chain.guard/functions_run_signed_code",
    ),
]


# The CI/CD template's weakenings, judged by `tools/posture.sh --pipeline`.
PIPELINE_WEAKENINGS = [
    (
        "pipeline-from-any-branch",
        "                BranchName: main\n",
        '                BranchName: "*"\n',
        "pipeline.guard/pipeline_takes_main_only",
    ),
    (
        "pipeline-started-by-any-push",
        "              - Branches: { Includes: [main] }",
        '              - Branches: { Includes: ["*"] }',
        "pipeline.guard/pipeline_takes_main_only",
    ),
    (
        "pipeline-deploys-without-a-change-set",
        "                ActionMode: CHANGE_SET_EXECUTE\n",
        "                ActionMode: CREATE_UPDATE\n",
        "pipeline.guard/pipeline_tests_before_it_deploys",
    ),
    (
        "pipeline-without-approval",
        "              ActionTypeId: { Category: Approval, Owner: AWS, Provider: Manual, Version: \"1\" }",
        "              ActionTypeId: { Category: Invoke, Owner: AWS, Provider: Lambda, Version: \"1\" }",
        "pipeline.guard/pipeline_tests_before_it_deploys",
    ),
    (
        "pipeline-packages-unsigned",
        "                  --signing-profiles $(for f in $(make -s print-functions); do printf '%sFunction=%s ' \"$f\" \"$SIGNING_PROFILE\"; done)\n",
        "",
        "pipeline.guard/pipeline_signs_code",
    ),
    (
        "pipeline-build-privileged",
        "        PrivilegedMode: false\n",
        "        PrivilegedMode: true\n",
        "pipeline.guard/pipeline_artifacts_and_builds_encrypted",
    ),
    (
        "pipeline-passes-its-role-anywhere",
        """                Resource: !Ref CloudFormationRoleArn
                Condition:
                  StringEquals:
                    iam:PassedToService: cloudformation.amazonaws.com
""",
        """                Resource: "*"
""",
        "iam.guard/iam_passrole_scoped",
    ),
]


def run_posture(path: Path, checks: str = "guard lint sam statelint", pipeline: bool = False) -> tuple[int, str]:
    done = subprocess.run(
        [str(POSTURE), *(["--pipeline"] if pipeline else []), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "POSTURE_CHECKS": checks},
    )
    return done.returncode, done.stdout + done.stderr


def check_for(expected: str) -> str:
    """The one check of tools/posture.sh meant to catch a weakening: a guard rule's, or cfn-lint's (a rule id).
    Running only it keeps the verdict and skips minutes of validators that look at other things (the real
    template and its JSON copy still go through all four)."""
    return "guard" if ".guard/" in expected else "lint"


def main() -> int:
    original = TEMPLATE.read_text()
    problems = []
    with tempfile.TemporaryDirectory(prefix="posture-") as tmp:
        tmp = Path(tmp)

        # The template as JSON, in another folder: the same verdict.
        as_json = tmp / "json" / "template.json"
        as_json.parent.mkdir()
        template, matches = decode(str(TEMPLATE))
        if matches:
            problems.append(f"{TEMPLATE} does not decode: {matches}")
        else:
            as_json.write_text(json.dumps(template, indent=1))
            code, output = run_posture(as_json)
            print(f"{'ok ' if code == 0 else 'BAD'} json copy passes (exit {code})")
            if code != 0:
                problems.append(f"the JSON copy of the template fails the posture:\n{output}")

        # The template with the network off (bring your own, or none): the same verdict.
        off = '  CreateNetwork:\n    Type: String\n    Default: "true"'
        if off not in original:
            problems.append("CreateNetwork's default is gone from the template")
        else:
            network_off = tmp / "network-off" / "template.yaml"
            network_off.parent.mkdir()
            network_off.write_text(original.replace(off, off.replace('"true"', '"false"'), 1))
            code, output = run_posture(network_off)
            print(f"{'ok ' if code == 0 else 'BAD'} the copy with CreateNetwork=false passes (exit {code})")
            if code != 0:
                problems.append(f"the template with CreateNetwork=false fails the posture:\n{output}")

        code, output = run_posture(PIPELINE, "guard lint", pipeline=True)
        print(f"{'ok ' if code == 0 else 'BAD'} the pipeline passes (exit {code})")
        if code != 0:
            problems.append(f"infra/pipeline.yaml fails the posture:\n{output}")

        copies = {}
        pipeline_original = PIPELINE.read_text()
        for source, weakenings, pipeline in [
            (original, WEAKENINGS, False),
            (pipeline_original, PIPELINE_WEAKENINGS, True),
        ]:
            for name, find, replace, expected in weakenings:
                if find not in source:
                    problems.append(f"{name}: the text to weaken is gone from its template: {find!r}")
                    continue
                copy = tmp / name / "template.yaml"
                copy.parent.mkdir()
                copy.write_text(source.replace(find, replace, 1))
                copies[name] = (copy, check_for(expected), pipeline)
        # Two at a time: each run is CPU-bound and the machine has two cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = pool.map(lambda job: run_posture(*job), copies.values())
            results = dict(zip(copies, runs))
        for name, _, _, expected in WEAKENINGS + PIPELINE_WEAKENINGS:
            if name not in results:
                continue
            code, output = results[name]
            failing = [
                line
                for line in output.splitlines()
                if line.endswith((" FAIL", " SKIP")) or line.startswith(("E", "W"))
            ]
            caught = code != 0 and any(expected in line for line in failing)
            print(f"{'ok ' if caught else 'BAD'} {name}: exit {code}, expected {expected}")
            if not caught:
                problems.append(f"{name}: posture did not fail on {expected}:\n{output}")

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("posture-weakened: FAILED")
    else:
        print(f"posture-weakened: all {len(WEAKENINGS) + len(PIPELINE_WEAKENINGS)} weakened copies caught, the JSON copy and the network-off copy pass")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
